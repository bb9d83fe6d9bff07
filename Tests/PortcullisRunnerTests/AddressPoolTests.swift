import PortcullisRunner
import Testing

@Suite("Runner address pool")
struct AddressPoolTests {
    func block(_ text: String) -> IPv4Block {
        guard let b = IPv4Block(text) else { Issue.record("bad test block \(text)"); return IPv4Block(base: 0, prefixLength: 32) }
        return b
    }

    @Test("CIDR text is parsed strictly, host bits cleared")
    func parsing() {
        #expect(IPv4Block("100.64.0.0/10")?.description == "100.64.0.0/10")
        #expect(IPv4Block("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(IPv4Block("192.0.2.7")?.prefixLength == 32)
        for bad in ["", "1.2.3", "1.2.3.4/33", "1.2.3.256/24", "01.2.3.4/8", "1.2.3.4/", "a.b.c.d/8", "1.2.3.4/8/9", "1.2.3.4/+8"] {
            #expect(IPv4Block(bad) == nil, "\(bad) must be refused")
        }
    }

    @Test("the first /30 of an empty pool gives host .1 and sandbox .2")
    func firstLease() {
        let lease = AddressPool.allocate(in: block("100.120.0.0/16"), avoiding: [])
        #expect(lease?.subnet.description == "100.120.0.0/30")
        #expect(lease?.hostText == "100.120.0.1")
        #expect(lease?.sandboxText == "100.120.0.2")
    }

    @Test("leases skip every used block, whatever its size, and ignore default routes")
    func skipsUsed() {
        let used = [block("0.0.0.0/0"), block("100.120.0.0/30"), block("100.120.0.4/32"), block("100.120.0.16/28")]
        #expect(AddressPool.allocate(in: block("100.120.0.0/16"), avoiding: used)?.subnet.description == "100.120.0.8/30")
        let more = used + [block("100.120.0.8/29")]
        #expect(AddressPool.allocate(in: block("100.120.0.0/16"), avoiding: more)?.subnet.description == "100.120.0.32/30")
    }

    @Test("a full pool gives no lease")
    func fullPool() {
        #expect(AddressPool.allocate(in: block("100.120.0.0/30"), avoiding: [block("100.120.0.2/32")]) == nil)
        #expect(AddressPool.allocate(in: block("100.120.0.0/29"), avoiding: [block("100.120.0.0/29")]) == nil)
        #expect(AddressPool.allocate(in: block("100.120.0.0/29"), avoiding: [block("100.120.0.0/30")])?.subnet.description == "100.120.0.4/30")
    }

    @Test("the default pool is a /16 of 100.64.0.0/10 that the host does not use")
    func defaultPool() {
        #expect(AddressPool.defaultPool(avoiding: [])?.description == "100.120.0.0/16")
        #expect(AddressPool.defaultPool(avoiding: [block("100.120.5.0/24"), block("100.121.0.1/32")])?.description == "100.122.0.0/16")
        #expect(AddressPool.defaultPool(avoiding: [block("100.64.0.0/10")]) == nil, "a route over the whole space leaves nothing")
        // Everything from 100.120 to the top taken: the search wraps to 100.64.
        #expect(AddressPool.defaultPool(avoiding: [block("100.120.0.0/13")])?.description == "100.64.0.0/16")
        #expect(AddressPool.defaultPool(avoiding: [block("0.0.0.0/0")])?.description == "100.120.0.0/16")
    }

    @Test("--pool refuses tiny, huge and reserved ranges")
    func validation() {
        #expect(AddressPool.validate(block("100.120.0.0/16")) == nil)
        #expect(AddressPool.validate(block("10.0.0.0/30")) == nil)
        #expect(AddressPool.validate(block("10.0.0.0/31")) != nil)
        #expect(AddressPool.validate(block("0.0.0.0/0")) != nil)
        #expect(AddressPool.validate(block("127.0.0.0/16")) != nil)
        #expect(AddressPool.validate(block("169.254.0.0/24")) != nil)
    }
}
