/// The profiles that ship with Portcullis: per-vendor profiles and the five default groups
/// of the sbx document. They are read-only; attach them to sandboxes or tenants.
///
/// Host lists are the names these services really use (pip needs pypi.org,
/// files.pythonhosted.org and pythonhosted.org; npm's registry is registry.npmjs.org; …).
public enum BuiltinProfiles {
    /// Every built-in profile, vendor profiles first, then the five groups.
    public static let all: [Profile] = vendors.map(\.profile) + groups.map(\.profile)

    /// Looks a built-in profile up by name.
    public static func named(_ name: String) -> Profile? { byName[name] }

    /// The names of the five default groups.
    public static let defaultGroupNames = groups.map(\.name)

    private static let byName: [String: Profile] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    struct Spec {
        let name: String
        let description: String
        let hosts: [String]

        var profile: Profile {
            Profile(name: name, description: description, builtin: true, rules: hosts.enumerated().map { index, host in
                let pattern: HostPattern
                do { pattern = try HostParser.parsePattern(host) } catch {
                    preconditionFailure("built-in profile \(name) has an invalid host \(host): \(error)")
                }
                return Rule(id: "rul_builtin_\(name)_\(index + 1)", action: .allow, host: pattern, source: .profile(name))
            })
        }
    }

    static let vendors: [Spec] = [
        // AI services
        Spec(name: "openai", description: "OpenAI API and ChatGPT",
             hosts: ["api.openai.com", "openai.com", "*.openai.com", "*.oaiusercontent.com", "*.oaistatic.com"]),
        Spec(name: "anthropic", description: "Anthropic API and Claude",
             hosts: ["api.anthropic.com", "anthropic.com", "*.anthropic.com", "claude.ai", "*.claude.ai"]),
        Spec(name: "gemini", description: "Google Gemini and Vertex AI APIs",
             hosts: ["generativelanguage.googleapis.com", "aiplatform.googleapis.com", "gemini.google.com"]),
        Spec(name: "cursor", description: "Cursor editor services",
             hosts: ["cursor.com", "*.cursor.com", "cursor.sh", "*.cursor.sh"]),
        Spec(name: "perplexity", description: "Perplexity API", hosts: ["api.perplexity.ai", "perplexity.ai"]),
        Spec(name: "mistral", description: "Mistral AI API", hosts: ["api.mistral.ai", "codestral.mistral.ai"]),
        Spec(name: "groq", description: "Groq API", hosts: ["api.groq.com"]),
        Spec(name: "cohere", description: "Cohere API", hosts: ["api.cohere.com", "api.cohere.ai"]),
        Spec(name: "huggingface", description: "Hugging Face Hub, models and datasets",
             hosts: ["huggingface.co", "*.huggingface.co", "hf.co", "*.hf.co"]),
        // Package managers
        Spec(name: "pypi", description: "Python Package Index (pip, uv, poetry)",
             hosts: ["pypi.org", "files.pythonhosted.org", "pythonhosted.org", "upload.pypi.org", "test.pypi.org"]),
        Spec(name: "npm", description: "npm and Yarn registries",
             hosts: ["registry.npmjs.org", "npmjs.org", "www.npmjs.com", "npmjs.com", "registry.yarnpkg.com", "repo.yarnpkg.com"]),
        Spec(name: "cargo", description: "Rust crates and toolchains",
             hosts: ["crates.io", "index.crates.io", "static.crates.io", "static.rust-lang.org", "sh.rustup.rs"]),
        Spec(name: "maven", description: "Maven Central and Gradle",
             hosts: ["repo.maven.apache.org", "repo1.maven.org", "central.sonatype.com", "plugins.gradle.org",
                     "services.gradle.org", "downloads.gradle.org"]),
        Spec(name: "rubygems", description: "RubyGems", hosts: ["rubygems.org", "index.rubygems.org", "api.rubygems.org"]),
        Spec(name: "go", description: "Go module proxy and checksum database",
             hosts: ["proxy.golang.org", "sum.golang.org", "index.golang.org", "pkg.go.dev", "go.dev", "golang.org"]),
        Spec(name: "nuget", description: "NuGet", hosts: ["api.nuget.org", "www.nuget.org"]),
        Spec(name: "packagist", description: "Composer / Packagist", hosts: ["repo.packagist.org", "packagist.org"]),
        Spec(name: "conda", description: "Anaconda and conda-forge",
             hosts: ["conda.anaconda.org", "repo.anaconda.com", "anaconda.org"]),
        // Code and containers
        Spec(name: "github", description: "GitHub, its API, raw content, releases and ghcr.io",
             hosts: ["github.com", "*.github.com", "api.github.com", "codeload.github.com",
                     "objects.githubusercontent.com", "raw.githubusercontent.com", "*.githubusercontent.com",
                     "ghcr.io", "pkg.github.com"]),
        Spec(name: "gitlab", description: "GitLab.com and its registry",
             hosts: ["gitlab.com", "*.gitlab.com", "registry.gitlab.com"]),
        Spec(name: "bitbucket", description: "Bitbucket Cloud", hosts: ["bitbucket.org", "*.bitbucket.org", "api.bitbucket.org"]),
        Spec(name: "docker", description: "Docker Hub",
             hosts: ["docker.io", "*.docker.io", "registry-1.docker.io", "auth.docker.io", "index.docker.io",
                     "hub.docker.com", "*.docker.com", "production.cloudflare.docker.com"]),
        Spec(name: "quay", description: "Quay.io", hosts: ["quay.io", "*.quay.io"]),
        // Cloud infrastructure
        Spec(name: "aws", description: "Amazon Web Services APIs and S3",
             hosts: ["amazonaws.com", "*.amazonaws.com", "aws.amazon.com", "*.aws.amazon.com", "*.awsstatic.com"]),
        Spec(name: "gcp", description: "Google Cloud APIs and registries",
             hosts: ["*.googleapis.com", "accounts.google.com", "cloud.google.com", "gcr.io", "*.gcr.io", "*.pkg.dev"]),
        Spec(name: "azure", description: "Microsoft Azure",
             hosts: ["management.azure.com", "login.microsoftonline.com", "*.azure.com", "*.azurecr.io",
                     "*.blob.core.windows.net", "*.vault.azure.net"]),
        Spec(name: "vercel", description: "Vercel", hosts: ["vercel.com", "*.vercel.com", "api.vercel.com"]),
        Spec(name: "fastly", description: "Fastly", hosts: ["fastly.com", "*.fastly.com", "api.fastly.com"]),
        // OS packages
        Spec(name: "ubuntu", description: "Ubuntu archives and PPAs",
             hosts: ["archive.ubuntu.com", "*.archive.ubuntu.com", "security.ubuntu.com", "ports.ubuntu.com",
                     "keyserver.ubuntu.com", "ppa.launchpadcontent.net"]),
        Spec(name: "debian", description: "Debian archives",
             hosts: ["deb.debian.org", "security.debian.org", "ftp.debian.org", "*.debian.org"]),
        Spec(name: "alpine", description: "Alpine Linux packages", hosts: ["dl-cdn.alpinelinux.org", "*.alpinelinux.org"]),
        Spec(name: "fedora", description: "Fedora and EPEL mirrors",
             hosts: ["mirrors.fedoraproject.org", "dl.fedoraproject.org", "*.fedoraproject.org"]),
    ]

    static func hosts(of names: [String]) -> [String] {
        names.flatMap { name in vendors.first { $0.name == name }?.hosts ?? [] }
    }

    static let groups: [Spec] = [
        Spec(name: "default-ai-services", description: "OpenAI, Anthropic, Gemini, Cursor, Perplexity and other AI APIs",
             hosts: hosts(of: ["openai", "anthropic", "gemini", "cursor", "perplexity", "mistral", "groq", "cohere", "huggingface"])),
        Spec(name: "default-package-managers", description: "PyPI, npm, cargo, Maven, RubyGems, Go and more",
             hosts: hosts(of: ["pypi", "npm", "cargo", "maven", "rubygems", "go", "nuget", "packagist", "conda"])),
        Spec(name: "default-code-and-containers", description: "GitHub, GitLab, Bitbucket, Docker Hub, ghcr.io, Quay",
             hosts: hosts(of: ["github", "gitlab", "bitbucket", "docker", "quay"])),
        Spec(name: "default-cloud-infrastructure", description: "AWS, GCP, Azure, Vercel, Fastly",
             hosts: hosts(of: ["aws", "gcp", "azure", "vercel", "fastly"])),
        Spec(name: "default-os-packages", description: "Ubuntu, Debian, Alpine and Fedora package repositories",
             hosts: hosts(of: ["ubuntu", "debian", "alpine", "fedora"])),
    ]
}
