/// The compact binary form of session values that is sealed into the database.
///
/// Tag byte, then: nothing (null, false, true), 8 bytes big-endian (int, double), or a varint length
/// followed by UTF-8 bytes or elements. Object keys are written sorted, so equal values always encode
/// to equal bytes. Decoding checks every length and limits nesting, so even bytes that somehow
/// passed authentication cannot trap.
enum ValueEncoding {
    private enum Tag: UInt8 {
        case null = 0, boolFalse, boolTrue, int, double, string, array, object
    }

    static let maximumDepth = 64

    @inline(never)  // keeps its temporaries out of callers' async frames (see SessionCodec)
    static func encode(_ values: [String: SessionValue]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        encode(.object(values), into: &bytes)
        return bytes
    }

    private static func encode(_ value: SessionValue, into bytes: inout [UInt8]) {
        switch value {
        case .null: bytes.append(Tag.null.rawValue)
        case .bool(let flag): bytes.append(flag ? Tag.boolTrue.rawValue : Tag.boolFalse.rawValue)
        case .int(let int):
            bytes.append(Tag.int.rawValue)
            appendFixed(UInt64(bitPattern: Int64(int)), to: &bytes)
        case .double(let double):
            bytes.append(Tag.double.rawValue)
            appendFixed(double.bitPattern, to: &bytes)
        case .string(let string):
            bytes.append(Tag.string.rawValue)
            appendString(string, to: &bytes)
        case .array(let elements):
            bytes.append(Tag.array.rawValue)
            appendVarint(elements.count, to: &bytes)
            for element in elements { encode(element, into: &bytes) }
        case .object(let members):
            bytes.append(Tag.object.rawValue)
            appendVarint(members.count, to: &bytes)
            for key in members.keys.sorted() {
                appendString(key, to: &bytes)
                if let member = members[key] { encode(member, into: &bytes) }
            }
        }
    }

    private static func appendFixed(_ value: UInt64, to bytes: inout [UInt8]) {
        var bigEndian = value.bigEndian
        withUnsafeBytes(of: &bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func appendVarint(_ value: Int, to bytes: inout [UInt8]) {
        var rest = UInt64(value)
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private static func appendString(_ string: String, to bytes: inout [UInt8]) {
        appendVarint(string.utf8.count, to: &bytes)
        bytes.append(contentsOf: string.utf8)
    }

    struct Malformed: Error {}

    /// Decodes the top-level object.
    @inline(never)  // keeps its temporaries out of callers' async frames (see SessionCodec)
    static func decode(_ bytes: [UInt8]) throws -> [String: SessionValue] {
        try bytes.withUnsafeBytes { try decode($0) }
    }

    /// Decodes the top-level object from a buffer (the codec hands over opened bytes in place).
    static func decode(_ bytes: UnsafeRawBufferPointer) throws -> [String: SessionValue] {
        var reader = Reader(buffer: bytes)
        guard case .object(let members) = try reader.value(depth: 0), reader.isAtEnd else { throw Malformed() }
        return members
    }

    private struct Reader {
        let buffer: UnsafeRawBufferPointer
        var offset = 0

        var isAtEnd: Bool { offset == buffer.count }

        mutating func byte() throws -> UInt8 {
            guard offset < buffer.count else { throw Malformed() }
            defer { offset += 1 }
            return buffer[offset]
        }

        mutating func fixed() throws -> UInt64 {
            guard buffer.count - offset >= 8 else { throw Malformed() }
            var value: UInt64 = 0
            for _ in 0..<8 { value = value << 8 | UInt64(buffer[offset]); offset += 1 }
            return value
        }

        mutating func varint() throws -> Int {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let next = try byte()
                value |= UInt64(next & 0x7f) << shift
                if next & 0x80 == 0 { break }
                shift += 7
                guard shift < 63 else { throw Malformed() }
            }
            // A length can never exceed what is left in the buffer.
            guard value <= UInt64(buffer.count) else { throw Malformed() }
            return Int(value)
        }

        mutating func string() throws -> String {
            let length = try varint()
            guard buffer.count - offset >= length else { throw Malformed() }
            let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + length])
            offset += length
            // Keys and most values are ASCII, which is valid UTF-8 as it stands: build those on
            // the stdlib's fast path. String(validating:) is generic over the encoding and runs
            // unspecialized, several times slower; it checks everything else.
            if slice.reduce(0, { $0 | $1 }) < 0x80 { return String(decoding: slice, as: UTF8.self) }
            guard let string = String(validating: slice, as: UTF8.self) else { throw Malformed() }
            return string
        }

        mutating func value(depth: Int) throws -> SessionValue {
            guard depth <= ValueEncoding.maximumDepth, let tag = Tag(rawValue: try byte()) else { throw Malformed() }
            switch tag {
            case .null: return .null
            case .boolFalse: return .bool(false)
            case .boolTrue: return .bool(true)
            case .int: return .int(Int(Int64(bitPattern: try fixed())))
            case .double: return .double(Double(bitPattern: try fixed()))
            case .string: return .string(try string())
            case .array:
                let count = try varint()
                var elements: [SessionValue] = []
                elements.reserveCapacity(count)
                for _ in 0..<count { elements.append(try value(depth: depth + 1)) }
                return .array(elements)
            case .object:
                let count = try varint()
                // Not `reserveCapacity`, which the optimizer leaves unspecialized here, looking up
                // the dictionary's generic metadata on every call: 32.4k instructions per get's
                // codec work with it, 31.8k with this, 35.0k reserving nothing (callgrind).
                var members = [String: SessionValue](minimumCapacity: count)
                for _ in 0..<count {
                    let key = try string()
                    members[key] = try value(depth: depth + 1)
                }
                return .object(members)
            }
        }
    }
}
