@testable import PortcullisPolicy
import Testing

@Suite("Built-in profiles")
struct BuiltinProfilesTests {
    @Test("the five sbx groups ship", arguments: ["default-ai-services", "default-package-managers", "default-code-and-containers",
                                                   "default-cloud-infrastructure", "default-os-packages"])
    func groups(name: String) throws {
        let p = try #require(BuiltinProfiles.named(name))
        #expect(p.builtin)
        #expect(!p.rules.isEmpty)
        #expect(p.rules.allSatisfy { $0.action == .allow && $0.source == .profile(name) })
    }

    @Test("vendor profiles cover the hosts those services really use", arguments: [
        ("pypi", ["pypi.org", "files.pythonhosted.org", "pythonhosted.org"]),
        ("npm", ["registry.npmjs.org"]), ("openai", ["api.openai.com"]), ("anthropic", ["api.anthropic.com"]),
        ("huggingface", ["huggingface.co", "cdn-lfs.huggingface.co"]), ("github", ["github.com", "api.github.com", "objects.githubusercontent.com", "ghcr.io"]),
        ("default-package-managers", ["pypi.org", "files.pythonhosted.org", "registry.npmjs.org", "crates.io", "proxy.golang.org"]),
        ("default-ai-services", ["api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com", "api.perplexity.ai"]),
        ("default-code-and-containers", ["github.com", "gitlab.com", "registry-1.docker.io", "ghcr.io"]),
        ("default-cloud-infrastructure", ["s3.amazonaws.com", "storage.googleapis.com", "management.azure.com", "api.vercel.com"]),
        ("default-os-packages", ["deb.debian.org", "archive.ubuntu.com", "dl-cdn.alpinelinux.org"]),
    ])
    func covers(name: String, hosts: [String]) throws {
        let p = try #require(BuiltinProfiles.named(name))
        let compiled = CompiledPolicy(mode: .allowlist, rules: p.rules, version: 1)
        for h in hosts {
            #expect(compiled.decide(target(h)).verdict == .allow, "\(name) should cover \(h)")
        }
        #expect(compiled.decide(target("example.com")).verdict == .reject)
    }

    @Test("profile names are unique and rule ids are unique")
    func unique() {
        #expect(Set(BuiltinProfiles.all.map(\.name)).count == BuiltinProfiles.all.count)
        let ids = BuiltinProfiles.all.flatMap { $0.rules.map(\.id) }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.hasPrefix("rul_") })
    }

    @Test("profile names are validated")
    func names() {
        #expect(throws: Never.self) { try Profile.validateName("my-team") }
        for bad in ["", "My", "1abc", "a b", "a/b", String(repeating: "a", count: 65)] {
            #expect(throws: RuleError.self) { try Profile.validateName(bad) }
        }
    }
}
