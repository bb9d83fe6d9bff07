import PortcullisRunner
import Testing

@Suite("Runner names")
struct RunNamesTests {
    @Test("names come from the end of the sandbox id and links fit IFNAMSIZ")
    func fromSandboxID() throws {
        let names = try #require(RunNames(sandboxID: "sbx_k3j9a0b1c2d3e4f5g6h7"))
        #expect(names.suffix == "d3e4f5g6h7")
        #expect(names.namespace == "pc-d3e4f5g6h7")
        #expect(names.hostLink == "pc-d3e4f5g6h7-h")
        #expect(names.sandboxLink == "pc-d3e4f5g6h7-s")
        #expect(names.table == "pc_d3e4f5g6h7")
        #expect(names.etcDirectory == "/etc/netns/pc-d3e4f5g6h7")
        #expect(names.recordPath(in: "/run/portcullis/runs") == "/run/portcullis/runs/pc-d3e4f5g6h7.json")
        #expect(names.hostLink.count <= RunNames.maxLinkName)
        #expect(names.sandboxLink.count <= RunNames.maxLinkName)
        #expect(RunNames(sandboxID: "sbx_ab")?.hostLink == "pc-ab-h")
    }

    @Test("ids of another shape are refused", arguments: ["", "sbx_", "rul_abc", "sbx_ABC", "sbx_a-b", "sbx_a/b", "sbx_a b", "sbx_\u{e9}t\u{e9}",
                                                        "sbx_" + String(repeating: "a", count: 80)])
    func refused(_ id: String) {
        #expect(RunNames(sandboxID: id) == nil)
    }

    @Test("runner-made names on the host are recognised, others are not")
    func recognition() {
        #expect(RunNames.suffix(ofNamespace: "pc-d3e4f5g6h7") == "d3e4f5g6h7")
        #expect(RunNames.suffix(ofLink: "pc-d3e4f5g6h7-h") == "d3e4f5g6h7")
        #expect(RunNames.suffix(ofLink: "pc-d3e4f5g6h7-s") == "d3e4f5g6h7")
        #expect(RunNames.suffix(ofTable: "pc_d3e4f5g6h7") == "d3e4f5g6h7")
        for other in ["eth0", "pc-", "pc-x-y", "pc-TOOLONGSUFFIX1", "docker0", "pc-a.b"] {
            #expect(RunNames.suffix(ofNamespace: other) == nil, "\(other)")
        }
        for other in ["eth0", "pc-abc", "pc--h", "veth1234"] { #expect(RunNames.suffix(ofLink: other) == nil, "\(other)") }
        for other in ["filter", "nat", "pc-abc", "pc_"] { #expect(RunNames.suffix(ofTable: other) == nil, "\(other)") }
    }
}
