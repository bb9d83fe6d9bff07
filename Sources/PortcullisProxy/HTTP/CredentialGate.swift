import NIOHTTP1
import PortcullisPolicy
import PortcullisWire

/// The request side of credentials (INSPECTION.md, "Credentials"): where a placeholder may
/// stand, what it becomes, and what is refused. A plain function of the request's parts and
/// the sandbox's bindings, so every rule here has a test with no channel.
///
/// - A placeholder is replaced by its secret only on a terminated request that its binding
///   covers (https, host, port, method, path prefix), and only at the declared placement:
///   the whole value of the declared header rendered from `format`, the Basic password
///   (the username kept), or the declared query parameter's value.
/// - A placeholder anywhere else — another header, the path, another parameter, plain HTTP,
///   a request its binding does not cover, one that is not this sandbox's (or was revoked)
///   — is a misuse: refused, nothing sent upstream.
/// - A request its binding covers with `require` and no placeholder is refused.
enum CredentialGate {
    enum Outcome: Equatable {
        /// Nothing to do: no placeholder, no binding that requires one.
        case pass
        /// Forward with these header values and this query (the secrets in place); `names` are
        /// the credentials injected.
        case inject(values: InjectedValues, query: String?, names: [String])
        case misuse(String)
        case required(String)
    }

    /// For `bindings` (tests): their plan computed here.
    static func check(headers: HTTPHeaders, path: String, query: String?, method: String, host: TargetHost, port: UInt16?,
                      terminated: Bool, bindings: [CredentialBinding]) -> Outcome {
        check(headers: headers, path: path, query: query, method: method, host: host, port: port, terminated: terminated,
              plan: ScrubPlan(bindings))
    }

    /// For the credentials of `plan` (the sandbox's, computed once per policy change: the
    /// values injected are rendered there, not per request).
    static func check(headers: HTTPHeaders, path: String, query: String?, method: String, host: TargetHost, port: UInt16?,
                      terminated: Bool, plan: ScrubPlan) -> Outcome {
        let bindings = plan.bindings
        var query = query
        var injected: [String] = []
        /// The binding of `placeholder` and its position in the plan, when it may stand here.
        func usable(_ placeholder: String) -> Result<(Int, CredentialBinding), Misuse> {
            guard let i = bindings.firstIndex(where: { $0.placeholder == placeholder }) else {
                return .failure(Misuse("a placeholder that is not one of this sandbox's credentials (or was revoked)"))
            }
            let b = bindings[i]
            guard terminated else { return .failure(Misuse("credential \(b.name)'s placeholder outside a terminated HTTPS request")) }
            guard b.covers(host, port: port, method: method, canonicalPath: path) else {
                return .failure(Misuse("credential \(b.name)'s placeholder in a request its binding does not cover (\(method) \(host):\(port ?? 0)\(path))"))
            }
            return .success((i, b))
        }

        // The common case, checked without copying anything: no placeholder in the path,
        // the query or any header, and no Basic credentials that could hide one.
        if !Self.mayCarryPlaceholder(path: path, query: query, headers: headers) {
            if terminated, let b = bindings.first(where: { $0.require && $0.covers(host, port: port, method: method, canonicalPath: path) }) {
                return .required(b.name)
            }
            return .pass
        }

        if !Placeholders.find(in: path).isEmpty { return .misuse("a placeholder in the request path") }

        // The query: a placeholder may only be the whole value of its binding's parameter.
        if let q = query, !Placeholders.find(in: q).isEmpty {
            var parts: [String] = []
            for item in q.split(separator: "&", omittingEmptySubsequences: false) {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(pair[0])
                let value = pair.count > 1 ? String(pair[1]) : ""
                if !Placeholders.find(in: name).isEmpty { return .misuse("a placeholder in a query parameter's name") }
                guard !Placeholders.find(in: value).isEmpty else {
                    parts.append(String(item))
                    continue
                }
                guard Placeholders.isPlaceholder(value) else { return .misuse("a placeholder inside a query value") }
                switch usable(value) {
                case .failure(let why): return .misuse(why.message)
                case .success(let (i, b)):
                    guard case .query(let parameter) = b.placement, parameter == name else {
                        return .misuse("credential \(b.name)'s placeholder in query parameter \(name), not at its placement (\(b.placement))")
                    }
                    parts.append(name + "=" + plan.injected(at: i))
                    injected.append(b.name)
                }
            }
            query = parts.joined(separator: "&")
        }

        // Headers: only the declared header (whole value from its format) or the Basic password.
        // The request's list is not copied: the new values go by their field's position.
        var values = InjectedValues()
        for (index, (name, value)) in headers.enumerated() {
            if Placeholders.occurs(in: name) { return .misuse("a placeholder in a header name") }
            let isAuthorization = name.utf8.count == 13 && name.equalsASCIIIgnoringCase("authorization")
            var found = Placeholders.find(in: value)
            var basic: (user: String, password: String)?
            if isAuthorization || (name.utf8.count == 19 && name.equalsASCIIIgnoringCase("proxy-authorization")),
               BasicCredentials.mayBe(value), let decoded = BasicCredentials.decode(value) {
                basic = decoded
                found += Placeholders.find(in: decoded.user) + Placeholders.find(in: decoded.password)
            }
            guard let placeholder = found.first else { continue }
            guard found.count == 1 else { return .misuse("more than one placeholder in header \(name)") }
            switch usable(placeholder) {
            case .failure(let why): return .misuse(why.message)
            case .success(let (i, b)):
                switch b.placement {
                case .header(let declared, _) where declared.equalsASCIIIgnoringCase(name):
                    values.set(plan.injected(at: i), at: index)
                case .basic where isAuthorization:
                    guard let basic, basic.password == placeholder, Placeholders.find(in: basic.user).isEmpty else {
                        return .misuse("credential \(b.name)'s placeholder in the Authorization header, not as the Basic password")
                    }
                    values.set(BasicCredentials.encode(user: basic.user, password: b.secret), at: index)
                default:
                    return .misuse("credential \(b.name)'s placeholder in header \(name), not at its placement (\(b.placement))")
                }
                injected.append(b.name)
            }
        }

        if injected.isEmpty {
            if terminated, let b = bindings.first(where: { $0.require && $0.covers(host, port: port, method: method, canonicalPath: path) }) {
                return .required(b.name)
            }
            return .pass
        }
        return .inject(values: values, query: query, names: injected)
    }
}

/// The values a request's header fields carry instead of their placeholders, by the field's
/// position in the request's list (`HTTPHeaders` in its order): the gate names them without
/// copying the list, and the head sent upstream — built once — takes them in place.
struct InjectedValues: Equatable, Sendable {
    /// Position and value, in the order of the fields (one, most often).
    private(set) var replacements: [(index: Int, value: String)] = []

    mutating func set(_ value: String, at index: Int) { replacements.append((index, value)) }

    /// The value of the field at `index`: its injected one, or nil (sent as it came).
    func value(at index: Int) -> String? {
        for r in replacements where r.index == index { return r.value }
        return nil
    }

    /// `headers` (the list the gate read) with the values in place.
    func applied(to headers: HTTPHeaders) -> HTTPHeaders {
        HTTPHeaders(headers.enumerated().map { index, field in (field.name, value(at: index) ?? field.value) })
    }

    static func == (a: InjectedValues, b: InjectedValues) -> Bool {
        a.replacements.elementsEqual(b.replacements) { $0.index == $1.index && $0.value == $1.value }
    }
}


extension CredentialGate {
    /// False only when no placeholder can be in the request: none in the path, the query or
    /// a header's name or value, and no `Basic` credentials (base64 could hide one).
    static func mayCarryPlaceholder(path: String, query: String?, headers: HTTPHeaders) -> Bool {
        if Placeholders.occurs(in: path) || query.map(Placeholders.occurs(in:)) == true { return true }
        for (name, value) in headers {
            if Placeholders.occurs(in: name) || Placeholders.occurs(in: value) { return true }
            let n = name.utf8.count
            if (n == 13 && name.equalsASCIIIgnoringCase("authorization"))
                || (n == 19 && name.equalsASCIIIgnoringCase("proxy-authorization")), BasicCredentials.mayBe(value) {
                return true
            }
        }
        return false
    }
}

/// Why a placeholder may not stand where it stands.
struct Misuse: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// `Authorization: Basic base64(user:password)`.
enum BasicCredentials {
    /// Whether `value` starts with the `Basic ` scheme (any case, after any spaces): only
    /// then can `decode` find credentials (a cheap test before it, for every other
    /// Authorization value).
    static func mayBe(_ value: String) -> Bool {
        let bytes = value.utf8.drop { $0 == UInt8(ascii: " ") }
        return bytes.count > 6 && bytes.prefix(6).elementsEqual("basic ".utf8, by: { $0 | 0x20 == $1 })
    }

    static func decode(_ value: String) -> (user: String, password: String)? {
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let bytes = Base64.decode(String(parts[1]).trimmingCharacters()) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func encode(user: String, password: String) -> String {
        "Basic " + Base64.encode(Array((user + ":" + password).utf8))
    }
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
enum PercentEncoding {
    static func encodeQueryValue(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            if (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
                || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += "%" + String(b >> 4, radix: 16, uppercase: true) + String(b & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in this module).
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension String {
    func trimmingCharacters() -> String { Substring(self).trimmingCharacters() }
}
