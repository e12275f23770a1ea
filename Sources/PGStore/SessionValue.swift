/// A JSON-like value kept in a session.
///
/// Literals work directly: `session.values["counter"] = 1`, `session.values["name"] = "Ada"`,
/// `session.values["tags"] = ["a", "b"]`. For your own types use ``Session/set(_:forKey:)`` and
/// ``Session/get(_:forKey:)``, which go through `Codable`.
public enum SessionValue: Sendable, Hashable {
    /// JSON `null`.
    case null
    /// A boolean.
    case bool(Bool)
    /// An integer.
    case int(Int)
    /// A floating-point number.
    case double(Double)
    /// A string.
    case string(String)
    /// An ordered list of values.
    case array([SessionValue])
    /// A map from string keys to values.
    case object([String: SessionValue])

    /// The integer, when this is ``int(_:)``.
    public var intValue: Int? { if case .int(let value) = self { value } else { nil } }
    /// The string, when this is ``string(_:)``.
    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    /// The boolean, when this is ``bool(_:)``.
    public var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }
    /// The number, when this is ``double(_:)`` or ``int(_:)``.
    public var doubleValue: Double? {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        default: nil
        }
    }
    /// The elements, when this is ``array(_:)``.
    public var arrayValue: [SessionValue]? { if case .array(let value) = self { value } else { nil } }
    /// The members, when this is ``object(_:)``.
    public var objectValue: [String: SessionValue]? { if case .object(let value) = self { value } else { nil } }
}

extension SessionValue: ExpressibleByNilLiteral {
    /// `null`.
    public init(nilLiteral: ()) { self = .null }
}

extension SessionValue: ExpressibleByBooleanLiteral {
    /// A boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension SessionValue: ExpressibleByIntegerLiteral {
    /// An integer.
    public init(integerLiteral value: Int) { self = .int(value) }
}

extension SessionValue: ExpressibleByFloatLiteral {
    /// A floating-point number.
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension SessionValue: ExpressibleByStringLiteral {
    /// A string.
    public init(stringLiteral value: String) { self = .string(value) }
}

extension SessionValue: ExpressibleByArrayLiteral {
    /// An array.
    public init(arrayLiteral elements: SessionValue...) { self = .array(elements) }
}

extension SessionValue: ExpressibleByDictionaryLiteral {
    /// An object.
    public init(dictionaryLiteral elements: (String, SessionValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension SessionValue: Codable {
    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([SessionValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: SessionValue].self))
        }
    }

    /// Encodes as the matching JSON value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
