@testable import PortcullisPolicy
import Testing

@Suite("Consistency checks")
struct ConsistencyTests {
    @Test("consistency failures reject in every mode, with their own rejected_by", arguments: Mode.allCases)
    func rejectEverywhere(mode: Mode) {
        let p = policy(mode, [allow("allowed.test")])
        let t = target("allowed.test")
        let cases: [(Inconsistency, String)] = [
            (.sniMismatch(sni: "denied.test"), "sni-mismatch"), (.sniMissing, "sni-mismatch"),
            (.hostMismatch(other: "denied.test"), "host-mismatch"), (.addressMismatch(ip("93.184.216.34")), "address-mismatch"),
        ]
        for (inconsistency, code) in cases {
            let d = p.reject(inconsistency, for: t)
            #expect(d.verdict == .reject)
            #expect(d.rejectedBy == code)
            #expect(d.stage == .consistency)
            #expect(!d.joinsPending)
        }
    }

    @Test("hostile strings in reasons are escaped")
    func escaped() {
        let d = policy(.allowlist, []).reject(.sniMismatch(sni: "evil\u{1B}[31m\n.test"), for: target("allowed.test"))
        #expect(!d.reason.contains("\u{1B}"))
        #expect(!d.reason.contains("\n"))
        #expect(d.reason.contains("\\u{1b}"))
    }
}
