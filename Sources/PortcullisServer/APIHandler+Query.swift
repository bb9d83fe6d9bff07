import Foundation
import PortcullisControl
import PortcullisPolicy

/// The query parameters' bounds from the document (the generated server checks types and
/// enums, not lengths or ranges), refused with 400 and the parameter's name.
enum QueryBounds {
    static func limit(_ value: Int?) throws -> Int {
        guard let value else { return 100 }
        guard (1...1000).contains(value) else { throw ControlError.badRequest("limit must be between 1 and 1000, not \(value)") }
        return value
    }

    /// A string parameter of 1 to `max` characters (counted as JSON Schema counts them, in code points).
    static func text(_ name: String, _ value: String?, max: Int) throws -> String? {
        guard let value else { return nil }
        guard !value.isEmpty, value.unicodeScalars.count <= max else {
            throw ControlError.badRequest("\(name) must be 1 to \(max) characters")
        }
        return value
    }

    static func cursor(_ value: String?) throws -> String? { try text("cursor", value, max: 1024) }
}
