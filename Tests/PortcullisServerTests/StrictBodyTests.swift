import Foundation
@testable import PortcullisAPI
import Testing

/// `StrictBody` on its own: the JSON grammar it walks, its bounds and its messages.
@Suite("Strict input: the body walk")
struct StrictBodyTests {
    static let rule = ObjectShape("Rule", [
        FieldShape("host", .scalar), FieldShape("port", .scalar, nullable: true), FieldShape("tags", .array(.scalar)),
        FieldShape("inner", .object(ObjectShape("Inner", [FieldShape("a", .scalar)]))),
        FieldShape("either", .oneOf([.scalar, .array(.object(ObjectShape("Item", [FieldShape("b", .scalar)])))])),
    ])
    static let shape = RequestBody.json(.object(rule))

    static func message(_ json: String, _ body: RequestBody = shape) -> String? {
        do {
            try StrictBody.check(Array(json.utf8), against: body)
            return nil
        } catch {
            return error.message
        }
    }

    @Test("valid JSON in every form passes", arguments: [
        #"{}"#, #" { "host" : "a" } "#, "{\"host\":\"a\",\n\t\"port\":-0.5e+10}", #"{"port": null}"#, #"{"port": 0}"#,
        #"{"tags": [], "inner": {}, "either": "x"}"#, #"{"tags": ["a", 1, true, false, null, {"x": [1]}]}"#,
        #"{"either": [{"b": 1}, {}]}"#, #"{"host": "\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}"#, #"{"\u0068ost": "a"}"#,
        #"{"host": "é 😀"}"#, #"{"port": 1E5}"#,
    ])
    func validPasses(json: String) {
        #expect(Self.message(json) == nil)
    }

    @Test("invalid JSON is refused, never accepted or crashed on", arguments: [
        "", " ", "{", "}", #"{"host"}"#, #"{"host": }"#, #"{"host": "a",}"#, #"{"host": 'a'}"#, #"{host: "a"}"#,
        #"{"port": 01}"#, #"{"port": 1.}"#, #"{"port": .5}"#, #"{"port": -}"#, #"{"port": 1e}"#, #"{"port": +1}"#,
        #"{"host": "a\x"}"#, #"{"host": "\u12"}"#, "{\"host\": \"a\nb\"}", #"{"port": tru}"#, #"{"port": nul}"#,
        #"{} {}"#, #"{"tags": [1,]}"#, #"{"tags": [1 2]}"#, #"{"host": "a""#, #"{"host": "a\"#,
    ])
    func invalidRefused(json: String) {
        let m = Self.message(json)
        #expect(m?.hasPrefix("the body is not valid JSON") == true, "\(json): \(m ?? "accepted")")
    }

    @Test("nesting is bounded")
    func depth() {
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        #expect(Self.message(#"{"tags": \#(deep)}"#) == "the body nests objects and arrays deeper than 64 levels")
        let ok = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(Self.message(#"{"tags": \#(ok)}"#) == nil)
    }

    @Test("unknown fields, duplicates and nulls, with where they are")
    func messages() {
        #expect(Self.message(#"{"inner": {"b": 1}}"#) == #"unknown field "b" in inner; the fields there are "a""#)
        #expect(Self.message(#"{"either": [{"b": 1}, {"c": 2}]}"#) == #"unknown field "c" in either[1]; the fields there are "b""#)
        #expect(Self.message(#"{"either": [{"B": 1}]}"#) == #"unknown field "B" in either[0]; did you mean "b"?"#)
        #expect(Self.message(#"{"tags": [{"anything": 1}]}"#) == nil) // not an object the document describes: the decoder refuses its type
        #expect(Self.message(#"{"host": null}"#) == "host must not be null; leave it out instead")
        #expect(Self.message(#"{"inner": {"a": null}}"#) == "inner.a must not be null; leave it out instead")
        #expect(Self.message(#"{"inner": {"a": 1, "a": 2}}"#) == #"field "a" is given twice in inner; give each field once"#)
        #expect(Self.message(#"{"tags": [{"x": 1, "x": 2}]}"#) == #"field "x" is given twice in tags[0]; give each field once"#)
    }

    @Test("a hostile key is shown escaped and bounded")
    func hostileKey() throws {
        let m = try #require(Self.message(#"{"a\"b\u0000": 1}"#))
        #expect(m.hasPrefix(#"unknown field "a\"b\u0000""#), "\(m)")
        let long = String(repeating: "k", count: 5000)
        let m2 = try #require(Self.message(#"{"\#(long)": 1}"#))
        #expect(m2.count < 400)
        #expect(m2.contains("…"))
    }

    @Test("an operation without a body takes {} only")
    func noBody() {
        #expect(Self.message("{}", .none) == nil)
        #expect(Self.message(" { } ", .none) == nil)
        #expect(Self.message(#"{"x": 1}"#, .none) == #"unknown field "x"; this operation takes no body"#)
        #expect(Self.message("[]", .none) == "this operation takes no body")
        #expect(Self.message("\"x\"", .none) == "this operation takes no body")
    }

    @Test("suggestions: the same letters, one inside the other, a small edit; nothing for a far one", arguments: [
        ("warnOnly", ["host", "warn_only"], "warn_only"), ("WARN-ONLY", ["warn_only"], "warn_only"),
        ("mode", ["default_mode", "default_profiles"], "default_mode"), ("ports", ["port", "protocol"], "port"),
        ("hots", ["host", "port"], "host"), ("mode", ["note", "methods"], nil), ("actoin", ["action", "host"], "action"),
        ("id", ["action", "host"], nil), ("profile", ["network_profile", "profiles"], "profiles"), ("x", ["host"], nil),
        ("source_address", ["source_addresses", "name"], "source_addresses"), ("zz_probe", ["host", "port"], nil),
    ] as [(String, [String], String?)])
    func suggestions(given: String, fields: [String], expected: String?) {
        #expect(FieldSuggestion.closest(to: given, among: fields) == expected)
    }

    @Test("every object of every request shape of the document refuses what it does not define")
    func documentShapesAreClosed() {
        for (operation, body) in RequestShapes.operations {
            guard case .json(let shape) = body, case .object(let top) = shape else { continue }
            #expect(!top.fields.isEmpty, "\(operation)")
            #expect(Self.message(#"{"not_a_field_anywhere": 1}"#, body)?.hasPrefix(#"unknown field "not_a_field_anywhere""#) == true, "\(operation)")
        }
    }
}
