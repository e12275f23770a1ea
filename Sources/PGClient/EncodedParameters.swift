import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Parameters laid out the way libpq takes them: per parameter a type OID, a format and a length,
/// then the values back to back. Built (and validated) on the caller's task, so the event loop
/// only takes pointers.
///
/// One allocation whatever the number of parameters (none without parameters): this is built
/// for every query. It was two arrays; making an array whose allocation the optimizer left
/// unspecialized looked up the array's generic metadata in the runtime's cache every time, a
/// third of this type's cost. ``ParameterBytes`` is a class of its own, with no such lookup.
struct EncodedParameters: Sendable {
    /// Three runs of `count` 4-byte entries (type OIDs, formats (0 text, 1 binary), lengths
    /// (`nullLength` for NULL); formats and lengths are libpq's `int`s, stored by bit pattern),
    /// then the values in order; text values end with a NUL, which libpq reads up to. `nil`
    /// without parameters. Immutable once built, so sharing it between threads is safe.
    private nonisolated(unsafe) let storage: ParameterBytes?
    let count: Int

    private static let nullLength = UInt32.max  // -1 as an Int32
    fileprivate static let entrySize = MemoryLayout<UInt32>.size

    /// The parameters' type OIDs (part of what identifies a prepared statement).
    var types: ParameterTypes { ParameterTypes(storage: storage, count: count) }

    init(_ values: [PGValue]) throws {
        guard values.count <= Int(UInt16.max) else {
            throw PGError(code: .invalidParameter, message: "\(values.count) parameters; PostgreSQL takes at most 65535")
        }
        let count = values.count
        self.count = count
        guard count > 0 else {
            storage = nil
            return
        }
        storage = try withUnsafeTemporaryAllocation(of: (type: UInt32, format: UInt32, length: UInt32).self, capacity: count) {
            layouts in
            var size = 3 * count * Self.entrySize
            for (index, value) in values.enumerated() {
                let layout = try Self.layout(of: value, index: index)
                layouts.initializeElement(at: index, to: layout)
                if layout.length != Self.nullLength { size += Int(layout.length) + (layout.format == 0 ? 1 : 0) }  // text ends with a NUL
            }
            let storage = ParameterBytes.make(size: size)
            storage.withUnsafeMutablePointerToElements { elements in
                let raw = UnsafeMutableRawBufferPointer(start: elements, count: size)
                var offset = 3 * count * Self.entrySize
                for (index, value) in values.enumerated() {
                    let layout = layouts[index]
                    raw.storeBytes(of: layout.type, toByteOffset: index * Self.entrySize, as: UInt32.self)
                    raw.storeBytes(of: layout.format, toByteOffset: (count + index) * Self.entrySize, as: UInt32.self)
                    raw.storeBytes(of: layout.length, toByteOffset: (2 * count + index) * Self.entrySize, as: UInt32.self)
                    offset = Self.write(value, into: raw, at: offset)
                }
            }
            return storage
        }
    }

    /// Writes a value's bytes at `offset`; returns the offset after them.
    private static func write(_ value: PGValue, into raw: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        switch value.storage {
        case .null:
            return offset
        case .text(let text):
            var text = text
            let end = text.withUTF8 { utf8 in
                UnsafeMutableRawBufferPointer(rebasing: raw[offset...]).copyMemory(from: UnsafeRawBufferPointer(utf8))
                return offset + utf8.count
            }
            raw[end] = 0
            return end + 1
        case .binary(_, let bytes):
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: raw[offset...]).copyMemory(from: $0) }
            return offset + bytes.count
        case .fixed(_, let bits, let width):
            withUnsafeBytes(of: bits.bigEndian) {
                UnsafeMutableRawBufferPointer(rebasing: raw[offset...]).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.suffix(width)))
            }
            return offset + width
        }
    }

    /// A parameter's type OID, format and length, checked for what libpq cannot send.
    private static func layout(of value: PGValue, index: Int) throws -> (type: UInt32, format: UInt32, length: UInt32) {
        switch value.storage {
        case .null:
            return (0, 0, nullLength)
        case .text(let text):
            // libpq reads text parameters up to their NUL terminator, so a NUL inside would
            // silently cut the value short. Refuse it instead.
            if containsNUL(text) {
                throw PGError(code: .invalidParameter, message: "parameter $\(index + 1) contains a NUL character")
            }
            guard text.utf8.count < Int(Int32.max) else { throw tooLarge(index) }
            return (0, 0, UInt32(text.utf8.count))
        case .binary(let oid, let bytes):
            guard bytes.count < Int(Int32.max) else { throw tooLarge(index) }
            return (oid, 1, UInt32(bytes.count))
        case .fixed(let oid, _, let width):
            return (oid, 1, UInt32(width))
        }
    }

    /// Whether `text` has a NUL byte: `memchr` over its UTF-8 where it is contiguous (a native
    /// string always is), which is several times cheaper than iterating the UTF-8 view.
    private static func containsNUL(_ text: String) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { bytes in
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, 0, bytes.count) != nil
        } ?? text.utf8.contains(0)
    }

    private static func tooLarge(_ index: Int) -> PGError {
        PGError(code: .invalidParameter, message: "parameter $\(index + 1) is larger than 2 GB")
    }

    /// Calls `body` with libpq's parameter arrays, valid for the duration of the call.
    func withLibPQArrays<R>(
        _ body: (
            _ values: UnsafePointer<UnsafePointer<CChar>?>?,
            _ lengths: UnsafePointer<Int32>?,
            _ formats: UnsafePointer<Int32>?,
            _ types: UnsafePointer<Oid>?
        ) -> R
    ) -> R {
        let count = self.count
        guard let storage else { return body(nil, nil, nil, nil) }
        return storage.withUnsafeMutablePointerToElements { elements in
            let base = UnsafeRawPointer(elements)
            let entries = 3 * count
            // Viewed as 4-byte entries for the call only (the elements start 8-byte aligned, after
            // the header).
            return base.withMemoryRebound(to: UInt32.self, capacity: entries) { layout in
                withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { pointers in
                    var offset = entries * Self.entrySize
                    for index in 0..<count {
                        let length = layout[2 * count + index]
                        if length == Self.nullLength {
                            pointers.initializeElement(at: index, to: nil)
                            continue
                        }
                        pointers.initializeElement(at: index, to: (base + offset).assumingMemoryBound(to: CChar.self))
                        offset += Int(length) + (layout[count + index] == 0 ? 1 : 0)  // text ends with a NUL
                    }
                    return UnsafeRawPointer(layout).withMemoryRebound(to: Int32.self, capacity: entries) { signed in
                        body(UnsafePointer(pointers.baseAddress), signed + 2 * count, signed + count, layout)
                    }
                }
            }
        }
    }
}

/// The bytes of one query's parameters: written once when the query is made, only read after
/// (ManagedBuffer opts out of Sendable; the holders vouch for this use).
final class ParameterBytes: ManagedBuffer<Int, UInt8> {
    /// A buffer of `size` bytes (its header is the size).
    static func make(size: Int) -> ParameterBytes {
        unsafeDowncast(create(minimumCapacity: size) { _ in size }, to: ParameterBytes.self)
    }
}

/// The parameter types of a query, compared and hashed by their bytes: the part of a prepared
/// statement's identity that is not its SQL text.
struct ParameterTypes: Hashable, @unchecked Sendable {  // its bytes are immutable (see EncodedParameters)
    fileprivate let storage: ParameterBytes?
    fileprivate let count: Int

    private func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard let storage else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return storage.withUnsafeMutablePointerToElements {
            body(UnsafeRawBufferPointer(start: $0, count: count * EncodedParameters.entrySize))
        }
    }

    static func == (lhs: ParameterTypes, rhs: ParameterTypes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.storage === rhs.storage { return true }
        return lhs.withBytes { left in rhs.withBytes { right in left.elementsEqual(right) } }
    }

    func hash(into hasher: inout Hasher) {
        withBytes { hasher.combine(bytes: $0) }
    }
}
