#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A Swift type that can be read from a column in PostgreSQL's binary format.
///
/// Conformances check the column type and the length; a mismatch is a ``PGError`` with code
/// ``PGError/Code/decoding``, never a trap.
public protocol PGDecodable: Sendable {
    /// Decodes a non-NULL value in binary format.
    /// - Parameters:
    ///   - bytes: the value as PostgreSQL sent it.
    ///   - type: the column's type OID.
    static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> Self
}

private func mismatch(_ swiftType: Any.Type, _ oid: UInt32) -> PGError {
    PGError.decoding("cannot decode a column of type \(PGType.name(of: oid)) as \(swiftType)")
}

private func loadBigEndian<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as: T.Type) throws -> T {
    guard bytes.count == MemoryLayout<T>.size else {
        throw PGError.decoding("expected \(MemoryLayout<T>.size) bytes, got \(bytes.count)")
    }
    return T(bigEndian: bytes.loadUnaligned(as: T.self))
}

extension Int64: PGDecodable {
    /// Decodes `int2`, `int4`, `int8` or `oid`.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> Int64 {
        switch type {
        case PGType.int8: return try loadBigEndian(bytes, as: Int64.self)
        case PGType.int4: return Int64(try loadBigEndian(bytes, as: Int32.self))
        case PGType.int2: return Int64(try loadBigEndian(bytes, as: Int16.self))
        case PGType.oid: return Int64(try loadBigEndian(bytes, as: UInt32.self))
        default: throw mismatch(Int64.self, type)
        }
    }
}

extension Int: PGDecodable {
    /// Decodes `int2`, `int4`, `int8` or `oid`.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> Int {
        let value = try Int64.decode(pgBinary: bytes, type: type)
        guard let int = Int(exactly: value) else { throw PGError.decoding("\(value) does not fit in Int") }
        return int
    }
}

extension Int32: PGDecodable {
    /// Decodes `int2` or `int4`, or an `int8` that fits.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> Int32 {
        let value = try Int64.decode(pgBinary: bytes, type: type)
        guard let int = Int32(exactly: value) else { throw PGError.decoding("\(value) does not fit in Int32") }
        return int
    }
}

extension Int16: PGDecodable {
    /// Decodes `int2`, or a wider integer that fits.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> Int16 {
        let value = try Int64.decode(pgBinary: bytes, type: type)
        guard let int = Int16(exactly: value) else { throw PGError.decoding("\(value) does not fit in Int16") }
        return int
    }
}

extension Bool: PGDecodable {
    /// Decodes `boolean`.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> Bool {
        guard type == PGType.bool else { throw mismatch(Bool.self, type) }
        return try loadBigEndian(bytes, as: UInt8.self) != 0
    }
}

extension Double: PGDecodable {
    /// Decodes `float8` or `float4`.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> Double {
        switch type {
        case PGType.float8: return Double(bitPattern: try loadBigEndian(bytes, as: UInt64.self))
        case PGType.float4: return Double(Float(bitPattern: try loadBigEndian(bytes, as: UInt32.self)))
        default: throw mismatch(Double.self, type)
        }
    }
}

extension Float: PGDecodable {
    /// Decodes `float4`.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> Float {
        guard type == PGType.float4 else { throw mismatch(Float.self, type) }
        return Float(bitPattern: try loadBigEndian(bytes, as: UInt32.self))
    }
}

extension String: PGDecodable {
    /// Decodes `text`, `varchar`, `bpchar`, `name`, `json` or `jsonb`.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> String {
        switch type {
        case PGType.text, PGType.varchar, PGType.bpchar, PGType.name, PGType.json, PGType.unknown:
            return String(decoding: bytes, as: UTF8.self)
        case PGType.jsonb:
            // Binary jsonb is a version byte (1) followed by the JSON text.
            guard let version = bytes.first, version == 1 else {
                throw PGError.decoding("unsupported jsonb version")
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes.dropFirst()), as: UTF8.self)
        default:
            throw mismatch(String.self, type)
        }
    }
}

extension Array: PGDecodable where Element == UInt8 {
    /// Decodes `bytea`.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> [UInt8] {
        guard type == PGType.bytea else { throw mismatch([UInt8].self, type) }
        return [UInt8](bytes)
    }
}

extension Date: PGDecodable {
    /// Decodes `timestamptz`, `timestamp` (read as UTC) or `date` (midnight UTC).
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> Date {
        switch type {
        case PGType.timestamptz, PGType.timestamp:
            return PGTimestamp.date(microsecondsSincePostgresEpoch: try loadBigEndian(bytes, as: Int64.self))
        case PGType.date:
            let days = try loadBigEndian(bytes, as: Int32.self)
            if days == Int32.max { return .distantFuture }
            if days == Int32.min { return .distantPast }
            return Date(timeIntervalSince1970: PGTimestamp.postgresEpochOffset + Double(days) * 86_400)
        default:
            throw mismatch(Date.self, type)
        }
    }
}

extension UUID: PGDecodable {
    /// Decodes `uuid`.
    public static func decode(pgBinary bytes: UnsafeRawBufferPointer, type: UInt32) throws -> UUID {
        guard type == PGType.uuid else { throw mismatch(UUID.self, type) }
        guard bytes.count == 16 else { throw PGError.decoding("uuid of \(bytes.count) bytes") }
        let b = [UInt8](bytes)
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
