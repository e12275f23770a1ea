/// The last bytes of a row's sealed data, kept with a loaded session so that its save can tell
/// whether another request has written the row since (optimistic concurrency, without a version
/// column or a wider SELECT).
///
/// Sealed data ends with its AES-GCM tag, or, signed only, with its HMAC: 16 bytes of either
/// change whenever the values do (and, encrypted, with every write, since each has a fresh
/// nonce). Two rows with equal fingerprints but different values would take a collision of the
/// MAC. Signed-only data written twice with the same values has the same fingerprint, and then a
/// save based on either is based on the values the row holds, so nothing is lost either way.
struct DataFingerprint: Sendable {
    /// How many trailing bytes are compared; the UPDATE's `substr(data, octet_length(data) - 15)`
    /// takes as many.
    static let length = 16

    private var bytes = InlineArray<16, UInt8>(repeating: 0)
    private var count = 0

    /// The fingerprint of sealed data: its last ``length`` bytes (all of it when shorter).
    init(of data: UnsafeRawBufferPointer) {
        let start = max(0, data.count - Self.length)
        for index in start..<data.count {
            bytes[index - start] = data[index]
        }
        count = data.count - start
    }

    init(of data: [UInt8]) {
        self = data.withUnsafeBytes { DataFingerprint(of: $0) }
    }

    /// The bytes, as the statement's parameter.
    var parameter: [UInt8] {
        (0..<count).map { bytes[$0] }
    }
}
