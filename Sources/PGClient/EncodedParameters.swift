import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Parameters laid out the way libpq takes them: the values back to back in one byte buffer,
/// and per parameter a type OID, a format and a length. Built (and validated) on the caller's
/// task, so the event loop only takes pointers.
///
/// Two allocations whatever the number of parameters (none without parameters): this is built
/// for every query, and each array of its own was an allocation of its own.
struct EncodedParameters: Sendable {
    /// Three runs of `count` entries: type OIDs, formats (0 text, 1 binary), lengths (`nullLength`
    /// for NULL). Formats and lengths are libpq's `int`s, stored by bit pattern.
    private let layout: [UInt32]
    /// The values in order; text values end with a NUL, which libpq reads up to.
    private let buffer: [UInt8]
    let count: Int

    private static let nullLength = UInt32.max  // -1 as an Int32
    /// Where an empty value points when the buffer has no storage at all.
    private nonisolated(unsafe) static let emptyValue: UnsafeMutablePointer<CChar> = {
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return pointer
    }()

    /// The parameters' type OIDs (part of what identifies a prepared statement).
    var types: ArraySlice<UInt32> { layout[0..<count] }

    init(_ values: [PGValue]) throws {
        guard values.count <= Int(UInt16.max) else {
            throw PGError(code: .invalidParameter, message: "\(values.count) parameters; PostgreSQL takes at most 65535")
        }
        let count = values.count
        self.count = count
        var size = 0
        layout = try [UInt32](unsafeUninitializedCapacity: 3 * count) { layout, initialized in
            for (index, value) in values.enumerated() {
                let (type, format, length) = try Self.layout(of: value, index: index)
                layout.initializeElement(at: index, to: type)
                layout.initializeElement(at: count + index, to: format)
                layout.initializeElement(at: 2 * count + index, to: length)
                if length != Self.nullLength { size += Int(length) + (format == 0 ? 1 : 0) }  // text ends with a NUL
            }
            initialized = 3 * count
        }
        buffer = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var offset = 0
            func write(_ bytes: some Collection<UInt8>) {
                offset = UnsafeMutableBufferPointer(rebasing: buffer[offset...]).initialize(fromContentsOf: bytes) + offset
            }
            for value in values {
                switch value.storage {
                case .null: break
                case .text(let text):
                    write(text.utf8)
                    write(CollectionOfOne(0))
                case .binary(_, let bytes):
                    write(bytes)
                case .fixed(_, let bits, let width):
                    withUnsafeBytes(of: bits.bigEndian) { write($0.suffix(width)) }
                }
            }
            initialized = offset
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
        return buffer.withUnsafeBytes { bytes in
            layout.withUnsafeBufferPointer { layout in
                withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { pointers in
                    var offset = 0
                    for index in 0..<count {
                        let length = layout[2 * count + index]
                        if length == Self.nullLength {
                            pointers.initializeElement(at: index, to: nil)
                            continue
                        }
                        // A nil pointer would mean NULL: an empty value in an empty buffer needs a real one.
                        let pointer = bytes.baseAddress.map { ($0 + offset).assumingMemoryBound(to: CChar.self) }
                        pointers.initializeElement(at: index, to: pointer ?? UnsafePointer(Self.emptyValue))
                        offset += Int(length) + (layout[count + index] == 0 ? 1 : 0)  // text ends with a NUL
                    }
                    return layout.withMemoryRebound(to: Int32.self) { signed in
                        body(
                            UnsafePointer(pointers.baseAddress), signed.baseAddress.map { $0 + 2 * count },
                            signed.baseAddress.map { $0 + count }, layout.baseAddress)
                    }
                }
            }
        }
    }
}
