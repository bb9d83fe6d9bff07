/// The shape of a request body as strict input sees it: which fields each object may have,
/// which of them may be null, and what their values hold. Built from the OpenAPI document by
/// scripts/embed-request-shapes (`RequestShapes+Document.swift`); checked by `StrictBody`.
public indirect enum BodyShape: Sendable {
    /// An object with exactly these fields (the document says `additionalProperties: false`).
    case object(ObjectShape)
    /// An array whose items have this shape.
    case array(BodyShape)
    /// One of several shapes, told apart by the JSON value's kind (object, array, other).
    case oneOf([BodyShape])
    /// A string, number or boolean: nothing inside to check.
    case scalar
}

/// An object of the document: its name and its fields, in the document's order.
public struct ObjectShape: Sendable {
    public let name: String
    public let fields: [FieldShape]
    private let byName: [String: FieldShape]

    public init(_ name: String, _ fields: [FieldShape]) {
        self.name = name
        self.fields = fields
        self.byName = Dictionary(fields.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func field(_ name: String) -> FieldShape? { byName[name] }
}

/// One field of an object.
public struct FieldShape: Sendable {
    public let name: String
    public let shape: BodyShape
    /// Whether `null` is a value the document allows (otherwise a null is refused rather
    /// than read as "left out").
    public let nullable: Bool

    public init(_ name: String, _ shape: BodyShape, nullable: Bool = false) {
        self.name = name
        self.shape = shape
        self.nullable = nullable
    }
}

/// What an operation takes as its body.
public enum RequestBody: Sendable {
    /// A JSON body of this shape.
    case json(BodyShape)
    /// No body: an empty one, or `{}`, is accepted; any field is refused.
    case none
}

/// The request bodies of every operation of the document, by `METHOD /path/template`
/// (the form the generated server registers its routes with).
public enum RequestShapes {
    /// The body `method path` takes; nil for an operation the document does not have.
    public static func body(method: String, path: String) -> RequestBody? {
        operations[method.uppercased() + " " + path]
    }
}
