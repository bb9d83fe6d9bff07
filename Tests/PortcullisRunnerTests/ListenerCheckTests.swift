import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PortcullisRunner
import Testing

/// `run` warns at start when nothing listens where its rules send the sandbox's packets.
@Suite("Runner listener check")
struct ListenerCheckTests {
    // Lines as /proc/net prints them on a little-endian host (the test machine's order).
    static let tcp = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0100007F:0C39 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0
           1: 00000000:14E9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0 100 0 0 10 0
           2: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0 100 0 0 10 0
        """
    static let udp = """
           sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
          10: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2001 2 0 0
          11: 0100007F:14EA 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2002 2 0 0
        """
    static let tcp6 = """
          sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 00000000000000000000000000000000:0C3A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3001 1 0 100 0 0 10 0
           1: 0000000000000000FFFF00000100007F:0C3B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3002 1 0 100 0 0 10 0
        """

    var sockets: [ListenerCheck.BoundSocket] {
        ListenerCheck.parse(Self.tcp, tcp: true) + ListenerCheck.parse(Self.udp, tcp: false) + ListenerCheck.parse(Self.tcp6, tcp: true)
    }

    func listener(_ text: String, _ option: String = "--dns") throws -> ListenerAddress {
        try ListenerAddress.parse(text, option: option)
    }

    @Test("listening TCP and bound UDP sockets are read; connections and headers are not")
    func parsing() {
        let s = sockets
        #expect(s.contains(.init(tcp: true, address: [127, 0, 0, 1], port: 3129)))
        #expect(s.contains(.init(tcp: true, address: [0, 0, 0, 0], port: 5353)))
        #expect(!s.contains { $0.port == 8080 }, "an established connection is not a listener")
        #expect(s.contains(.init(tcp: false, address: [0, 0, 0, 0], port: 5353)))
        #expect(s.contains(.init(tcp: false, address: [127, 0, 0, 1], port: 5354)))
        #expect(s.contains(.init(tcp: true, address: Array(repeating: 0, count: 16), port: 3130)))
        #expect(s.count == 6)
    }

    @Test("a redirect to the host end needs the wildcard; a dnat needs the address or the wildcard")
    func coverage() throws {
        let s = sockets
        #expect(ListenerCheck.covered(try listener("0.0.0.0:5353"), tcp: false, by: s))
        #expect(ListenerCheck.covered(try listener("0.0.0.0:5353"), tcp: true, by: s))
        #expect(ListenerCheck.covered(try listener("127.0.0.1:5353"), tcp: false, by: s), "the wildcard takes loopback too")
        #expect(!ListenerCheck.covered(try listener("0.0.0.0:3129", "--transparent"), tcp: true, by: s), "only 127.0.0.1 listens")
        #expect(ListenerCheck.covered(try listener("127.0.0.1:3129", "--transparent"), tcp: true, by: s))
        #expect(!ListenerCheck.covered(try listener("127.0.0.2:3129", "--transparent"), tcp: true, by: s))
        #expect(ListenerCheck.covered(try listener("0.0.0.0:3130", "--transparent"), tcp: true, by: s), "[::] is dual-stack")
        #expect(ListenerCheck.covered(try listener("127.0.0.1:3131", "--transparent"), tcp: true, by: s), "IPv4-mapped")
        #expect(!ListenerCheck.covered(try listener("127.0.0.1:5354"), tcp: true, by: s), "UDP alone does not take DNS over TCP")
    }

    @Test("warnings name the flag, the address, what listens instead and what the sandbox would see")
    func warnings() throws {
        let s = sockets
        #expect(ListenerCheck.warnings(transparent: try listener("127.0.0.1:3129", "--transparent"), dns: try listener("0.0.0.0:5353"), sockets: s).isEmpty)
        let wrong = ListenerCheck.warnings(transparent: try listener("0.0.0.0:3129", "--transparent"), dns: try listener("127.0.0.1:5399"), sockets: s)
        #expect(wrong.count == 2, "\(wrong)")
        #expect(wrong[0].hasPrefix("--transparent 0.0.0.0:3129: nothing listens on the wildcard address at port 3129 over TCP (something listens on 127.0.0.1:3129)"))
        #expect(wrong[0].contains("connections would be refused"))
        #expect(wrong[1].hasPrefix("--dns 127.0.0.1:5399: nothing listens there over UDP, so the sandbox's DNS queries would go unanswered"))
    }

    @Test("the host's tables are read to their end, past the first page /proc hands out")
    func readsWholeTables() throws {
        // Enough listening sockets that /proc/net/tcp outgrows one 4 KiB page.
        var descriptors: [Int32] = []
        defer { for fd in descriptors { close(fd) } }
        for _ in 0..<64 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            descriptors.append(fd)
            #expect(ok && listen(fd, 1) == 0)
        }
        let sockets = try #require(ListenerCheck.hostSockets())
        #expect(sockets.filter { $0.tcp && $0.address == [127, 0, 0, 1] }.count >= 64)
    }

    @Test("a listener that is off is refused with what to give instead")
    func off() {
        #expect(throws: RunInputError.self) { _ = try ListenerAddress.parse("off", option: "--dns") }
        do throws(RunInputError) {
            _ = try ListenerAddress.parse("off", option: "--transparent")
            Issue.record("off was accepted")
        } catch {
            #expect(error.message.contains("--transparent is off") && error.message.contains("--transparent 0.0.0.0:3129"))
        }
    }
}
