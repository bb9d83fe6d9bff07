import Foundation
import HTTPTypes
@testable import PortcullisAPI
import PortcullisControl
import PortcullisModel
import PortcullisPolicy
@testable import PortcullisServer
import PortcullisStore
import Testing

/// Every request schema of the document, fed one extra field at every object it can hold
/// (the body itself, a rule inside a policy, the create-time network, …), answers 400
/// naming that field: a new operation cannot forget strict input. The shapes come from the
/// document (scripts/embed-request-shapes); tests/e2e/test_strict_input.py walks the YAML
/// document itself against `serve`.
@Suite("API: strict input, every operation")
struct StrictInputPropertyTests {
    enum Step {
        case key(String)
        case index
    }

    /// Every place in `shape` where an object sits, as the steps that reach it.
    static func objectLocations(_ shape: BodyShape, depth: Int = 0) -> [[Step]] {
        guard depth < 8 else { return [] }
        switch shape {
        case .object(let o):
            return [[]] + o.fields.flatMap { f in objectLocations(f.shape, depth: depth + 1).map { [.key(f.name)] + $0 } }
        case .array(let items):
            return objectLocations(items, depth: depth + 1).map { [.index] + $0 }
        case .oneOf(let alternatives):
            return alternatives.flatMap { objectLocations($0, depth: depth + 1) }
        case .scalar:
            return []
        }
    }

    /// A body holding only the path to `location` and, there, the probe field.
    static func body(reaching location: [Step], probe: String) -> String {
        var json = #"{"\#(probe)": 1}"#
        for step in location.reversed() {
            switch step {
            case .key(let k): json = #"{"\#(k)": \#(json)}"#
            case .index: json = "[\(json)]"
            }
        }
        return json
    }

    static func concrete(_ template: String) -> String {
        var path = template
        for (name, value) in [("{rule_id}", "rul_x"), ("{pending_id}", "pnd_x"), ("{key_id}", "key_x"), ("{name}", "mine"), ("{id}", "sbx_x")] {
            path = path.replacingOccurrences(of: name, with: value)
        }
        return path
    }

    @Test("one extra field anywhere in any request body is 400 naming it")
    func extraFieldEverywhere() async throws {
        try await withAPI { api in
            var probed = 0
            for (operation, expected) in RequestShapes.operations.sorted(by: { $0.key < $1.key }) {
                let parts = operation.split(separator: " ", maxSplits: 1)
                let method = try #require(HTTPRequest.Method(String(parts[0])))
                let path = Self.concrete(String(parts[1]))
                let locations: [[Step]]
                switch expected {
                case .json(let shape): locations = Self.objectLocations(shape)
                case .none: locations = [[]]
                }
                #expect(!locations.isEmpty, "\(operation)")
                for (n, location) in locations.enumerated() {
                    let probe = "zz_probe_\(n)"
                    let r = try await api.admin(method, path, json: Self.body(reaching: location, probe: probe))
                    #expect(r.status == 400, "\(operation) \(location): \(r.text)")
                    #expect(r.error?.contains(#"unknown field "\#(probe)""#) == true, "\(operation) \(location): \(r.text)")
                    probed += 1
                }
            }
            // Nested objects are among them: rules in policies, templates, profiles and compat bodies.
            #expect(probed > RequestShapes.operations.count + 10)
        }
    }

    @Test("the shapes list exactly the routes the server registers")
    func shapesMatchRoutes() throws {
        let listing = RouteListing()
        let control = ControlPlane(store: InMemoryStore(), now: { Timestamp(milliseconds: 0) }, publish: { _ in })
        try APIHandler(control: control, readiness: { true }, metrics: { "" }, streamSlots: StreamSlots(limit: 1)).registerHandlers(on: listing)
        #expect(listing.registered.count == RequestShapes.operations.count)
        for operation in listing.registered {
            #expect(RequestShapes.operations[operation] != nil, "\(operation) has no shape: run scripts/embed-request-shapes")
        }
    }
}
