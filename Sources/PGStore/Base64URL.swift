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
        var output = [UInt8]()
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            output.append(alphabet[Int(first >> 2)])
            output.append(alphabet[Int((first & 0x03) << 4 | (second ?? 0) >> 4)])
            guard let second else { break }
            output.append(alphabet[Int((second & 0x0f) << 2 | (third ?? 0) >> 6)])
            guard let third else { break }
            output.append(alphabet[Int(third & 0x3f)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func decode(_ text: Substring.UTF8View) -> [UInt8]? {
        // Cookie headers arrive as native strings, whose bytes are contiguous: decode straight
        // from them (the generic path costs several times more per byte).
        if let decoded = text.withContiguousStorageIfAvailable({ decode($0) }) { return decoded }
        return Array(text).withUnsafeBufferPointer { decode($0) }
    }

    private static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = text.count
        guard count % 4 != 1 else { return nil }
        let outputCount = count * 3 / 4
        return reverse.withUnsafeBufferPointer { reverse -> [UInt8]? in
            var valid = true
            let output = [UInt8](unsafeUninitializedCapacity: outputCount) { output, initialized in
                // Four characters (24 bits) make three bytes; 0xff in the table marks a byte
                // outside the alphabet, and any such byte sets a high bit in `invalid`.
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
                valid = invalid & 0xc0 == 0 && tail & ((1 << UInt32(tailBits)) - 1) == 0
                initialized = written
            }
            return valid ? output : nil
        }
    }
}
