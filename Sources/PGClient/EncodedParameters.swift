import CLibPQ

/// Parameters laid out the way libpq takes them: one contiguous byte buffer plus per-parameter
/// offsets, lengths, formats and type OIDs. Built (and validated) on the caller's task, so the
/// event loop only takes pointers.
struct EncodedParameters: Sendable {
    private(set) var types: [UInt32] = []
    private var formats: [Int32] = []
    private var lengths: [Int32] = []
    private var offsets: [Int] = []  // -1 for NULL
    private var buffer: [UInt8] = []

    var count: Int { types.count }

    init(_ values: [PGValue]) throws {
        guard values.count <= Int(UInt16.max) else {
            throw PGError(code: .invalidParameter, message: "\(values.count) parameters; PostgreSQL takes at most 65535")
        }
        types.reserveCapacity(values.count)
        formats.reserveCapacity(values.count)
        lengths.reserveCapacity(values.count)
        offsets.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            switch value.storage {
            case .null:
                append(type: 0, format: 0, length: 0, offset: -1)
            case .text(let text):
                let utf8 = text.utf8
                // libpq reads text parameters up to their NUL terminator, so a NUL inside would
                // silently cut the value short. Refuse it instead.
                if utf8.contains(0) {
                    throw PGError(code: .invalidParameter, message: "parameter $\(index + 1) contains a NUL character")
                }
                guard utf8.count < Int(Int32.max) else { throw Self.tooLarge(index) }
                let offset = buffer.count
                buffer.append(contentsOf: utf8)
                buffer.append(0)
                append(type: 0, format: 0, length: Int32(utf8.count), offset: offset)
            case .binary(let oid, let bytes):
                guard bytes.count < Int(Int32.max) else { throw Self.tooLarge(index) }
                let offset = buffer.count
                buffer.append(contentsOf: bytes)
                append(type: oid, format: 1, length: Int32(bytes.count), offset: offset)
            }
        }
    }

    private static func tooLarge(_ index: Int) -> PGError {
        PGError(code: .invalidParameter, message: "parameter $\(index + 1) is larger than 2 GB")
    }

    private mutating func append(type: UInt32, format: Int32, length: Int32, offset: Int) {
        types.append(type)
        formats.append(format)
        lengths.append(length)
        offsets.append(offset)
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
        buffer.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress)
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in
                guard offset >= 0, let base else { return nil }
                return (base + offset).assumingMemoryBound(to: CChar.self)
            }
            return pointers.withUnsafeBufferPointer { values in
                lengths.withUnsafeBufferPointer { lengths in
                    formats.withUnsafeBufferPointer { formats in
                        types.withUnsafeBufferPointer { types in
                            body(values.baseAddress, lengths.baseAddress, formats.baseAddress, types.baseAddress)
                        }
                    }
                }
            }
        }
    }
}
