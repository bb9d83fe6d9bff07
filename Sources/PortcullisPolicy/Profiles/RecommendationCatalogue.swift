/// What suggestions recommend for a host (POLICY-MODEL.md, "suggestions").
public enum Recommendation: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Known registries, AI APIs, code hosts, cloud APIs.
    case keep
    /// IP-lookup, echo, paste and tunnelling services, browser CDNs: rarely needed.
    case question
    /// Metadata endpoints and guarded addresses.
    case deny
    /// Unknown third parties.
    case investigate
    public var description: String { rawValue }
}

/// The catalogue behind recommendations: explicit deny and question lists, then every host
/// a built-in profile covers is `keep`, then the rest is `investigate`.
public struct RecommendationCatalogue: Sendable {
    public struct Entry: Sendable {
        public let pattern: HostPattern
        public let recommendation: Recommendation
        public let reason: String
    }

    public let entries: [Entry]
    let profiles: [Profile]
    let known: CompiledPolicy
    let addressGuard: AddressGuard

    public init(entries: [Entry], profiles: [Profile], addressGuard: AddressGuard = AddressGuard()) {
        self.entries = entries
        self.profiles = profiles
        self.known = CompiledPolicy(mode: .allowlist, rules: profiles.flatMap(\.rules), version: 0)
        self.addressGuard = addressGuard
    }

    /// The shipped catalogue over the built-in vendor profiles.
    public static let shipped = RecommendationCatalogue(
        entries: shippedEntries,
        profiles: BuiltinProfiles.all.filter { !BuiltinProfiles.defaultGroupNames.contains($0.name) }
    )

    /// The recommendation and its reason for one host (canonical text, as logged).
    public func recommend(_ hostText: String) -> (Recommendation, String) {
        guard let host = try? HostParser.parseTarget(hostText) else {
            return (.investigate, "not a valid host name; investigate before allowing")
        }
        for entry in entries where entry.pattern.covers(host) {
            return (entry.recommendation, entry.reason)
        }
        if case .address(let a) = host {
            if let range = addressGuard.range(guarding: a) {
                return (.deny, "\(range.label) address, blocked by the address guard; deny it explicitly")
            }
            return (.investigate, "an IP literal; find out who runs it, and prefer a name rule")
        }
        let decision = known.decide(Target(host: host, port: nil, transport: nil, request: .notApplicable))
        if decision.verdict != .reject, case .profile(let name)? = decision.rule?.source {
            let what = profiles.first { $0.name == name }?.description ?? name
            return (.keep, "known host of \(what) (built-in profile \(name))")
        }
        return (.investigate, "unknown third-party host; investigate before allowing")
    }

    static func entry(_ host: String, _ recommendation: Recommendation, _ reason: String) -> Entry {
        do {
            return Entry(pattern: try HostParser.parsePattern(host), recommendation: recommendation, reason: reason)
        } catch {
            preconditionFailure("catalogue host \(host) is invalid: \(error)")
        }
    }

    static let shippedEntries: [Entry] = {
        let metadata = "cloud metadata endpoint: it hands out credentials; deny it explicitly"
        let ipLookup = "IP-lookup service: reveals the sandbox's public address; usually deny"
        let exfil = "paste, echo or tunnelling service often used to move data out; usually deny"
        let browserCDN = "browser font/script CDN: keep only if the sandbox serves a browser app"
        var list: [Entry] = []
        for h in ["169.254.169.254", "169.254.170.2", "168.63.129.16", "100.100.100.200", "fd00:ec2::254",
                  "metadata.google.internal", "metadata.goog", "metadata.azure.internal", "metadata"] {
            list.append(entry(h, .deny, metadata))
        }
        for h in ["ifconfig.me", "ifconfig.co", "ipinfo.io", "api.ipify.org", "api64.ipify.org", "ipify.org",
                  "icanhazip.com", "ipecho.net", "ident.me", "checkip.amazonaws.com", "myexternalip.com",
                  "wtfismyip.com", "ip-api.com", "ipapi.co", "ipwho.is", "myip.com", "api.myip.com", "ipv4.icanhazip.com",
                  "ipv6.icanhazip.com", "checkip.dyndns.org"] {
            list.append(entry(h, .question, ipLookup))
        }
        for h in ["pastebin.com", "paste.ee", "transfer.sh", "webhook.site", "requestbin.net", "*.requestbin.net",
                  "httpbin.org", "*.ngrok.io", "*.ngrok-free.app", "*.trycloudflare.com", "*.burpcollaborator.net",
                  "*.oast.fun", "*.interact.sh"] {
            list.append(entry(h, .question, exfil))
        }
        for h in ["fonts.gstatic.com", "fonts.googleapis.com", "cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"] {
            list.append(entry(h, .question, browserCDN))
        }
        return list
    }()
}
