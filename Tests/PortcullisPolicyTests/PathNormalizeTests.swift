@testable import PortcullisPolicy
import Testing

/// The one-pass fast path of `PathPattern.normalize` must answer exactly as the full
/// normalisation does, for every input it accepts.
@Suite("Request path normalisation")
struct PathNormalizeTests {
    @Test("the fast path agrees with the full normalisation on 20,000 random paths")
    func fastPathAgreesWithFullPath() {
        let alphabet: [String] = ["/", "/", "/", ".", "..", "a", "b", "%", "2", "f", "F", "5", "c", "e", "?", "#", "\\", "é",
                                  "\r\n", "-", "~", "%2e", "%2F", "%41"]
        var generator = CompiledVersusReferenceTests.Generator(state: 0x5EED)  // SplitMix64: a failure repeats
        var fast = 0
        for _ in 0..<20_000 {
            let length = generator.int(12)
            var path = generator.int(8) == 0 ? "" : "/"
            for _ in 0..<length { path += generator.pick(alphabet) }
            let full = PathPattern.fullyNormalized(path)
            if let plain = PathPattern.plainPath(path) {
                fast += 1
                #expect(plain == full, "\(path.debugDescription): fast \(plain.debugDescription), full \(String(describing: full))")
            }
            #expect(PathPattern.normalize(requestPath: path) == full, "\(path.debugDescription)")
        }
        #expect(fast > 1_000, "the fast path should take the plain paths (took \(fast))")
    }

    @Test func plainPathsComeBackAsTheyAre() {
        #expect(PathPattern.plainPath("/v1/chat/completions") == "/v1/chat/completions")
        #expect(PathPattern.plainPath("/a/b?x=/../y") == "/a/b")
        #expect(PathPattern.plainPath("/a//b/") == "/a//b/")
        #expect(PathPattern.plainPath("/a/./b") == nil)
        #expect(PathPattern.plainPath("/a/%2e%2e/b") == nil)
        #expect(PathPattern.plainPath("a/b") == nil)
        #expect(PathPattern.normalize(requestPath: "/a/../b") == "/b")
        #expect(PathPattern.normalize(requestPath: "/a%2Fb") == nil)
    }
}
