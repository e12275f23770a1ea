#if canImport(Glibc)
import Glibc
#endif

/// Reading `Cookie` headers and writing `Set-Cookie` values.
enum Cookie {
    /// The values of every cookie called `name` in a `Cookie` header, in order.
    /// Scans the header's UTF-8 bytes in place (the delimiters are ASCII): this runs on every
    /// request.
    @inline(never)  // keeps its temporaries out of callers' async frames (see SessionCodec)
    static func values(named name: String, in header: String) -> [Substring] {
        var header = header
        header.makeContiguousUTF8()
        let ranges = header.utf8.withContiguousStorageIfAvailable { valueRanges(named: name, in: $0) } ?? []
        let utf8 = header.utf8
        return ranges.map { range in
            header[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)]
        }
    }

    /// Byte offsets of the values of every cookie called `name`.
    private static func valueRanges(named name: String, in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var found: [Range<Int>] = []
        let nameBytes = Array(name.utf8)
        let end = bytes.count
        func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var index = 0
        while index < end {
            while index < end, isSpace(bytes[index]) { index += 1 }
            var pairEnd = index
            while pairEnd < end, bytes[pairEnd] != UInt8(ascii: ";") { pairEnd += 1 }
            let equals = index + nameBytes.count
            if equals < pairEnd, bytes[equals] == UInt8(ascii: "="),
                nameBytes.withUnsafeBufferPointer({ $0.elementsEqual(UnsafeBufferPointer(rebasing: bytes[index..<equals])) })
            {
                var valueStart = equals + 1
                var valueEnd = pairEnd
                while valueEnd > valueStart, isSpace(bytes[valueEnd - 1]) { valueEnd -= 1 }
                if valueEnd - valueStart >= 2, bytes[valueStart] == UInt8(ascii: "\""), bytes[valueEnd - 1] == UInt8(ascii: "\"") {
                    valueStart += 1
                    valueEnd -= 1
                }
                found.append(valueStart..<valueEnd)
            }
            index = pairEnd + 1
        }
        return found
    }

    /// A `Set-Cookie` value; `value == nil` writes an expiring cookie that deletes it.
    static func setCookie(name: String, value: String?, options: SessionOptions, now: Int64) -> String {
        var text = name + "=" + (value ?? "")
        text += "; Path=" + options.path
        if let domain = options.domain, !domain.isEmpty { text += "; Domain=" + domain }
        if value == nil || options.maxAge < 0 {
            text += "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        } else if options.maxAge > 0 {
            text += "; Max-Age=\(options.maxAge); Expires=" + httpDate(now + Int64(options.maxAge))
        }
        if options.secure { text += "; Secure" }
        if options.httpOnly { text += "; HttpOnly" }
        if let sameSite = options.sameSite { text += "; SameSite=" + sameSite.value }
        if options.partitioned { text += "; Partitioned" }
        return text
    }

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// An IMF-fixdate (RFC 9110), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let day = days[Int(parts.tm_wday) % 7]
        let month = months[Int(parts.tm_mon) % 12]
        return "\(day), \(two(parts.tm_mday)) \(month) \(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }

    static func unixNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}
