import PortcullisRunner
import Testing

@Suite("Runner listeners and nftables ruleset")
struct ListenerAndRulesetTests {
    let names = RunNames(sandboxID: "sbx_0123456789abcdefghij")!
    let lease = Lease(subnet: IPv4Block("100.120.0.4/30")!)

    @Test("listener addresses say how the rules reach them")
    func listenerParsing() throws {
        #expect(try ListenerAddress.parse("127.0.0.1:3129", option: "--transparent").reach == .loopback)
        #expect(try ListenerAddress.parse("0.0.0.0:5353", option: "--dns").reach == .wildcard)
        #expect(try ListenerAddress.parse("[::]:5353", option: "--dns") == ListenerAddress.parse("0.0.0.0:5353", option: "--dns"))
        #expect(try ListenerAddress.parse("192.0.2.5:53", option: "--dns").reach == .address)
        for bad in ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "[::1]:53", "host.test:53", "1.2.3:53", ":x"] {
            #expect(throws: RunInputError.self, "\(bad)") { try ListenerAddress.parse(bad, option: "--dns") }
        }
    }

    @Test("loopback listeners are reached by dnat, and only then is route_localnet needed")
    func loopbackRules() throws {
        let rules = Ruleset(names: names, lease: lease, transparent: try .parse("127.0.0.1:3129", option: "t"), dns: try .parse("127.0.0.1:5353", option: "d"))
        let text = rules.text
        #expect(rules.needsRouteLocalnet)
        #expect(text.contains("table inet pc_abcdefghij {}\ndelete table inet pc_abcdefghij\ntable inet pc_abcdefghij {"), "create-or-empty, in one transaction")
        #expect(text.contains("iifname \"pc-abcdefghij-h\" meta nfproto != ipv4 drop"), "IPv6 dropped")
        #expect(text.contains("iifname \"pc-abcdefghij-h\" ip saddr != 100.120.0.6 drop"), "spoofed sources dropped")
        #expect(text.contains("iifname \"pc-abcdefghij-h\" udp dport 53 dnat ip to 127.0.0.1:5353"))
        #expect(text.contains("iifname \"pc-abcdefghij-h\" tcp dport 53 dnat ip to 127.0.0.1:5353"))
        #expect(text.contains("iifname \"pc-abcdefghij-h\" meta l4proto tcp dnat ip to 127.0.0.1:3129"))
        #expect(text.contains("ct status dnat tcp dport 3129 accept"))
        #expect(text.contains("ct status dnat udp dport 5353 accept"))
        #expect(text.contains("\t\tiifname \"pc-abcdefghij-h\" drop\n\t}"), "input ends in a drop for the link")
        #expect(text.contains("type filter hook forward priority filter; policy accept;\n\t\tiifname \"pc-abcdefghij-h\" drop\n\t\toifname \"pc-abcdefghij-h\" drop"))
        // DNS is steered before the catch-all TCP rule.
        let dnsRule = try #require(text.range(of: "tcp dport 53"))
        let tcpRule = try #require(text.range(of: "meta l4proto tcp"))
        #expect(dnsRule.lowerBound < tcpRule.lowerBound)
    }

    @Test("wildcard listeners are reached by redirect to the host end")
    func wildcardRules() throws {
        let rules = Ruleset(names: names, lease: lease, transparent: try .parse("0.0.0.0:3129", option: "t"), dns: try .parse("[::]:5300", option: "d"))
        #expect(!rules.needsRouteLocalnet)
        #expect(rules.text.contains("udp dport 53 redirect to :5300"))
        #expect(rules.text.contains("meta l4proto tcp redirect to :3129"))
        #expect(!rules.text.contains("dnat ip to"))
    }

    @Test("the plan installs the rules before any end of the link is up, and undoes everything")
    func planOrder() throws {
        let plan = RunPlan(names: names, lease: lease, transparent: try .parse("127.0.0.1:3129", option: "t"), dns: try .parse("127.0.0.1:5353", option: "d"))
        let lines = plan.setup.map(\.description)
        let nft = try #require(lines.firstIndex(of: "nft -f - < script"))
        let hostUp = try #require(lines.firstIndex(of: "ip link set pc-abcdefghij-h up"))
        let sandboxUp = try #require(lines.firstIndex(of: "ip -n pc-abcdefghij link set pc-abcdefghij-s up"))
        #expect(nft < hostUp && nft < sandboxUp)
        #expect(lines.contains("echo 1 > /proc/sys/net/ipv4/conf/pc-abcdefghij-h/route_localnet"))
        #expect(lines.contains("echo 1 > /proc/sys/net/ipv6/conf/pc-abcdefghij-h/disable_ipv6"))
        #expect(lines.contains("ip -n pc-abcdefghij route add default via 100.120.0.5 dev pc-abcdefghij-s"))
        #expect(lines.contains("ip addr add 100.120.0.5/30 dev pc-abcdefghij-h"))
        #expect(lines.contains("write /etc/netns/pc-abcdefghij/resolv.conf"))
        #expect(plan.resolvConf.contains("nameserver 100.120.0.5\n"))
        #expect(!lines.contains { $0.contains("ip_forward") }, "the host's forwarding setting is never touched")
        #expect(plan.teardown.map(\.description) == [
            "kill -9 $(ip netns pids pc-abcdefghij)", "ip link del pc-abcdefghij-h", "nft delete table inet pc_abcdefghij",
            "ip netns del pc-abcdefghij", "rm -r /etc/netns/pc-abcdefghij", "rm -r /run/portcullis-ca/pc-abcdefghij",
        ])
        #expect(!lines.contains { $0.contains("ca-bundle") }, "no bundle unless the plan is given one")
    }

    @Test("the sandbox's CA bundle is written for the command's group only, after the link is set up, and removed with the run")
    func trustBundle() throws {
        let plan = RunPlan(names: names, lease: lease, transparent: try .parse("127.0.0.1:3129", option: "t"),
                           dns: try .parse("127.0.0.1:5353", option: "d"), trust: TrustBundle(text: "PEM", group: 1000))
        #expect(plan.setup.last == .writeGroupFile(directory: "/run/portcullis-ca/pc-abcdefghij", name: "ca-bundle.pem",
                                                   contents: "PEM", group: 1000))
        #expect(plan.setup.last?.description == "write /run/portcullis-ca/pc-abcdefghij/ca-bundle.pem (root:1000 0640)")
        #expect(names.trustBundlePath == "/run/portcullis-ca/pc-abcdefghij/ca-bundle.pem")
        #expect(plan.teardown.contains(.removeDirectory("/run/portcullis-ca/pc-abcdefghij")))
        #expect(!names.trustBundlePath.hasPrefix(names.etcDirectory), "ip netns exec would try to bind-mount it over /etc")
    }
}
