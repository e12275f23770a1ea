#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A query parameter: a value bound to `$1`, `$2`, ... in a statement.
///
/// Integers, bytea, booleans, doubles, timestamps and UUIDs travel in PostgreSQL's binary format
/// (no text round trip, and a 1 MB bytea costs 1 MB, not 2 MB of hex). Strings travel as text with
/// an unspecified type, so the server infers it from context exactly as it does for a literal.
///
/// ```swift
/// try await pool.query("SELECT $1::int8 + $2", [.int8(40), 2])
/// ```
public struct PGValue: Sendable, Hashable {
    enum Storage: Sendable, Hashable {
        case null
        case text(String)
        case binary(oid: UInt32, bytes: [UInt8])
        /// A fixed-size binary value (1 to 8 bytes, big-endian on the wire), kept inline: these
        /// are most parameters, and an array each would be an allocation each.
        case fixed(oid: UInt32, bits: UInt64, size: Int)
    }

    let storage: Storage

    /// SQL NULL.
    public static let null = PGValue(storage: .null)

    /// Text; the server infers its type from the statement (like an untyped literal).
    /// Text may not contain a NUL character: PostgreSQL cannot store one, and sending it is an error.
    public static func text(_ value: String) -> PGValue { PGValue(storage: .text(value)) }

    /// A `bytea`, sent in binary.
    public static func bytea(_ value: [UInt8]) -> PGValue { PGValue(storage: .binary(oid: PGType.bytea, bytes: value)) }

    /// An `int8` (bigint), sent in binary.
    public static func int8(_ value: Int64) -> PGValue {
        PGValue(storage: .fixed(oid: PGType.int8, bits: UInt64(bitPattern: value), size: 8))
    }

    /// An `int4` (integer), sent in binary.
    public static func int4(_ value: Int32) -> PGValue {
        PGValue(storage: .fixed(oid: PGType.int4, bits: UInt64(UInt32(bitPattern: value)), size: 4))
    }

    /// A `boolean`, sent in binary.
    public static func bool(_ value: Bool) -> PGValue {
        PGValue(storage: .fixed(oid: PGType.bool, bits: value ? 1 : 0, size: 1))
    }

    /// A `float8` (double precision), sent in binary.
    public static func float8(_ value: Double) -> PGValue {
        PGValue(storage: .fixed(oid: PGType.float8, bits: value.bitPattern, size: 8))
    }

    /// A `timestamptz`, sent in binary with microsecond precision.
    public static func timestamptz(_ value: Date) -> PGValue {
        let micros = PGTimestamp.microsecondsSincePostgresEpoch(value)
        return PGValue(storage: .fixed(oid: PGType.timestamptz, bits: UInt64(bitPattern: micros), size: 8))
    }

    /// A `uuid`, sent in binary.
    public static func uuid(_ value: UUID) -> PGValue {
        let u = value.uuid
        let bytes: [UInt8] = [
            u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15,
        ]
        return PGValue(storage: .binary(oid: PGType.uuid, bytes: bytes))
    }

    /// Whether this value is SQL NULL.
    public var isNull: Bool { storage == .null }

    /// The type the value is declared with (0 lets the server infer it).
    var oid: UInt32 {
        switch storage {
        case .null, .text: return 0
        case .binary(let oid, _), .fixed(let oid, _, _): return oid
        }
    }
}

extension PGValue: ExpressibleByStringLiteral {
    /// A text parameter from a literal.
    public init(stringLiteral value: String) { self = .text(value) }
}

extension PGValue: ExpressibleByIntegerLiteral {
    /// An `int8` parameter from a literal.
    public init(integerLiteral value: Int64) { self = .int8(value) }
}

extension PGValue: ExpressibleByBooleanLiteral {
    /// A `boolean` parameter from a literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension PGValue: ExpressibleByNilLiteral {
    /// SQL NULL from `nil`.
    public init(nilLiteral: ()) { self = .null }
}
