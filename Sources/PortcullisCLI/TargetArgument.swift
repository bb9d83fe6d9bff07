import PortcullisPolicy

/// Parses `host[:port]` (IPv6 as `[addr]:port`) as the CLI takes targets and rules.
enum HostPort {
    /// Splits off a port. A bare IPv6 address (several colons, no brackets) has no port.
    static func split(_ text: String) throws -> (host: String, port: Int?) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw InputError("\(Escape.quoted(text)): missing ] after an IPv6 address") }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.first == ":" else { throw InputError("\(Escape.quoted(text)): expected :PORT after ]") }
            return (host, try port(String(rest.dropFirst()), in: text))
        }
        let colons = text.filter { $0 == ":" }.count
        if colons == 1, let i = text.lastIndex(of: ":") {
            return (String(text[..<i]), try port(String(text[text.index(after: i)...]), in: text))
        }
        return (text, nil)
    }

    static func port(_ digits: String, in text: String) throws -> Int {
        guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let p = Int(digits), (1...65535).contains(p) else {
            throw InputError("\(Escape.quoted(text)): the port must be a number from 1 to 65535")
        }
        return p
    }
}
