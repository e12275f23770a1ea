#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The type OIDs the client encodes and decodes (from `pg_type`; fixed since PostgreSQL 8).
enum PGType {
    static let bool: UInt32 = 16
    static let bytea: UInt32 = 17
    static let name: UInt32 = 19
    static let int8: UInt32 = 20
    static let int2: UInt32 = 21
    static let int4: UInt32 = 23
    static let text: UInt32 = 25
    static let oid: UInt32 = 26
    static let json: UInt32 = 114
    static let float4: UInt32 = 700
    static let float8: UInt32 = 701
    static let unknown: UInt32 = 705
    static let bpchar: UInt32 = 1042
    static let varchar: UInt32 = 1043
    static let date: UInt32 = 1082
    static let timestamp: UInt32 = 1114
    static let timestamptz: UInt32 = 1184
    static let uuid: UInt32 = 2950
    static let jsonb: UInt32 = 3802

    static func name(of oid: UInt32) -> String {
        switch oid {
        case bool: return "boolean"
        case bytea: return "bytea"
        case name: return "name"
        case int8: return "int8"
        case int2: return "int2"
        case int4: return "int4"
        case text: return "text"
        case oid: return "oid"
        case json: return "json"
        case float4: return "float4"
        case float8: return "float8"
        case bpchar: return "bpchar"
        case varchar: return "varchar"
        case date: return "date"
        case timestamp: return "timestamp"
        case timestamptz: return "timestamptz"
        case uuid: return "uuid"
        case jsonb: return "jsonb"
        default: return "oid \(oid)"
        }
    }
}

/// PostgreSQL's binary timestamps count microseconds from 2000-01-01 00:00:00 UTC.
enum PGTimestamp {
    static let postgresEpochOffset: Double = 946_684_800  // 2000-01-01 in Unix seconds

    static func microsecondsSincePostgresEpoch(_ date: Date) -> Int64 {
        let micros = ((date.timeIntervalSince1970 - postgresEpochOffset) * 1_000_000).rounded()
        // Clamp so no Date, however far out, can trap the conversion.
        if micros >= Double(Int64.max) { return Int64.max }
        if micros <= Double(Int64.min) { return Int64.min }
        return Int64(micros)
    }

    static func date(microsecondsSincePostgresEpoch micros: Int64) -> Date {
        if micros == Int64.max { return .distantFuture }  // 'infinity'
        if micros == Int64.min { return .distantPast }  // '-infinity'
        return Date(timeIntervalSince1970: postgresEpochOffset + Double(micros) / 1_000_000)
    }
}
