import Foundation

// Hand-written additions to the generated API types.
//
// The OpenAPI document marks nullable fields as required (the key is always present, its
// value may be null). The generated encoders leave nil optionals out instead, so the types
// below that carry required-nullable fields encode every stored property, nil as `null`.

struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Encodes every stored property of `value` under its JSON name, writing `null` for nil.
func encodeKeepingNulls(_ value: Any, to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: AnyCodingKey.self)
    for child in Mirror(reflecting: value).children {
        guard let label = child.label, label != "additionalProperties" else { continue }
        let key = AnyCodingKey(label.hasPrefix("_") ? String(label.dropFirst()) : label)
        let mirror = Mirror(reflecting: child.value)
        var unwrapped: Any = child.value
        if mirror.displayStyle == .optional {
            guard let some = mirror.children.first else {
                try container.encodeNil(forKey: key)
                continue
            }
            unwrapped = some.value
        }
        // Dates go through the container, so the encoder's date strategy (RFC 3339) applies.
        if let date = unwrapped as? Date {
            try container.encode(date, forKey: key)
            continue
        }
        guard let encodable = unwrapped as? any Encodable else {
            throw EncodingError.invalidValue(unwrapped, .init(codingPath: encoder.codingPath + [key], debugDescription: "not encodable"))
        }
        // Encode the opened value itself, not a wrapper: the encoder recognises `Date` (and
        // applies the configured RFC 3339 strategy) only when it is handed a `Date`.
        try container.encode(encodable, forKey: key)
    }
}

extension Components.Schemas.Rule {
    /// Written field by field rather than through `Mirror`: a policy's rules are the one list
    /// the API returns unpaged (up to 10,000 of each kind), and reflection cost most of such
    /// a response. Paged lists (at most 1,000 items, e.g. audit pages in under 0.1 s on a
    /// debug build) keep `encodeKeepingNulls`.
    /// `RuleEncodingTests` checks that this writes exactly what `encodeKeepingNulls` does.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(action, forKey: .action)
        try c.encode(host, forKey: .host)
        try c.encodeKeepingNull(port, forKey: .port)
        try c.encode(_protocol, forKey: ._protocol)
        try c.encodeKeepingNull(methods, forKey: .methods)
        try c.encodeKeepingNull(paths, forKey: .paths)
        try c.encode(warn_only, forKey: .warn_only)
        try c.encodeKeepingNull(inspect, forKey: .inspect)
        try c.encode(except, forKey: .except)
        try c.encodeKeepingNull(note, forKey: .note)
        try c.encode(source, forKey: .source)
        try c.encode(created_at, forKey: .created_at)
    }
}

extension KeyedEncodingContainer {
    mutating func encodeKeepingNull<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}

extension Components.Schemas.Sandbox {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}

extension Components.Schemas.SandboxPolicy {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}

extension Components.Schemas.Pending {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}

extension Components.Schemas.Explanation {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}

extension Components.Schemas.Profile {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}

extension Components.Schemas.Template {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}

extension Components.Schemas.Suggestion {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}

extension Components.Schemas.AuditEntry {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}

extension Components.Schemas.Credential {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}

extension Components.Schemas.CredentialBinding {
    public func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(self, to: encoder) }
}
