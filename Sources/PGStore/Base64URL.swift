/// Unpadded base64url (RFC 4648 §5), the alphabet that is safe in cookie values.
/// Decoding rejects anything that is not canonical, so one cookie value has one meaning.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (index, char) in alphabet.enumerated() { table[Int(char)] = UInt8(index) }
        return table
    }()

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        if let encoded = bytes.withContiguousStorageIfAvailable({ encode(UnsafeRawBufferPointer($0)) }) { return encoded }
        return Array(bytes).withUnsafeBytes { encode($0) }
    }

    /// Encodes straight into the new string's storage.
    static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let count = bytes.count
        return String(unsafeUninitializedCapacity: (count * 4 + 2) / 3) { output in
            alphabet.withUnsafeBufferPointer { alphabet in
                var input = 0
                var written = 0
                while input < count {
                    let first = bytes[input]
                    let second = input + 1 < count ? bytes[input + 1] : 0
                    let third = input + 2 < count ? bytes[input + 2] : 0
                    output[written] = alphabet[Int(first >> 2)]
                    output[written + 1] = alphabet[Int((first & 0x03) << 4 | second >> 4)]
                    written += 2
                    if input + 1 < count {
                        output[written] = alphabet[Int((second & 0x0f) << 2 | third >> 6)]
                        written += 1
                    }
                    if input + 2 < count {
                        output[written] = alphabet[Int(third & 0x3f)]
                        written += 1
                    }
                    input += 3
                }
                return written
            }
        }
    }

    static func decode(_ text: Substring.UTF8View) -> [UInt8]? {
        withDecoded(text) { Array($0) }
    }

    /// Decodes `text` into a temporary buffer (on the stack when small) and calls `body` with
    /// it; `nil` when `text` is not canonical base64url.
    static func withDecoded<Result>(_ text: Substring.UTF8View, _ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        // Cookie headers arrive as native strings, whose bytes are contiguous: decode straight
        // from them (the generic path costs several times more per byte).
        if let decoded = text.withContiguousStorageIfAvailable({ withDecoded($0, body) }) { return decoded }
        return Array(text).withUnsafeBufferPointer { withDecoded($0, body) }
    }

    private static func withDecoded<Result>(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeRawBufferPointer) -> Result)
        -> Result?
    {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: text.count * 3 / 4) { output in
            guard let count = decode(text, into: output) else { return nil }
            return body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: output[..<count])))
        }
    }

    /// Decodes into `output` (at least `text.count * 3 / 4` bytes); returns the number of bytes
    /// written, or `nil` when `text` is not canonical base64url.
    private static func decode(_ text: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>) -> Int? {
        let count = text.count
        guard count % 4 != 1 else { return nil }
        return reverse.withUnsafeBufferPointer { reverse -> Int? in
            // Four characters (24 bits) make three bytes; 0xff in the table marks a byte outside
            // the alphabet, and any such byte sets a high bit in `invalid`.
            var invalid: UInt8 = 0
            var input = 0
            var written = 0
            while input + 4 <= count {
                let a = reverse[Int(text[input])], b = reverse[Int(text[input + 1])]
                let c = reverse[Int(text[input + 2])], d = reverse[Int(text[input + 3])]
                invalid |= a | b | c | d
                let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                output[written] = UInt8(truncatingIfNeeded: group >> 16)
                output[written + 1] = UInt8(truncatingIfNeeded: group >> 8)
                output[written + 2] = UInt8(truncatingIfNeeded: group)
                input += 4
                written += 3
            }
            var tail: UInt32 = 0
            var tailBits = 0
            while input < count {
                let value = reverse[Int(text[input])]
                invalid |= value
                tail = tail << 6 | UInt32(value & 0x3f)
                tailBits += 6
                input += 1
            }
            while tailBits >= 8 {
                tailBits -= 8
                output[written] = UInt8(truncatingIfNeeded: tail >> UInt32(tailBits))
                written += 1
            }
            // Leftover bits must be zero, or two strings would decode to the same bytes.
            guard invalid & 0xc0 == 0 && tail & ((1 << UInt32(tailBits)) - 1) == 0 else { return nil }
            return written
        }
    }
}
