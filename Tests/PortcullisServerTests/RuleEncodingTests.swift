import Foundation
@testable import PortcullisAPI
import Testing

/// `Rule` is written field by field for speed; it must write exactly what the reflective
/// `encodeKeepingNulls` writes (every key present, nil as `null`).
@Suite struct RuleEncodingTests {
    struct Reflected: Encodable {
        let rule: Components.Schemas.Rule
        func encode(to encoder: any Encoder) throws { try encodeKeepingNulls(rule, to: encoder) }
    }

    func json(_ value: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return String(decoding: try e.encode(value), as: UTF8.self)
    }

    @Test("the hand-written encoder matches the reflective one, with and without the nullable fields")
    func matchesReflection() throws {
        let date = Date(timeIntervalSince1970: 1_796_278_516)
        let rules: [Components.Schemas.Rule] = [
            .init(id: "rul_1", action: .allow, host: "*.example.test", port: nil, _protocol: .any, methods: nil, paths: nil,
                  warn_only: false, except: [], note: nil, source: "user", created_at: date),
            .init(id: "rul_2", action: .deny, host: "10.0.0.0/8", port: 443, _protocol: .tcp, methods: ["GET", "POST"],
                  paths: ["/v1/*"], warn_only: true, inspect: true, except: ["10.1.0.0/16"], note: "a \"note\"", source: "profile:github", created_at: date),
        ]
        for rule in rules {
            let fast = try json(rule)
            #expect(fast == (try json(Reflected(rule: rule))))
            #expect(fast.contains("\"protocol\""))
        }
        #expect(try json(rules[0]).contains("\"port\":null"))
        #expect(try json(rules[0]).contains("\"note\":null"))
        #expect(try json(rules[0]).contains("\"inspect\":null"))
        #expect(try json(rules[1]).contains("\"inspect\":true"))
    }
}
