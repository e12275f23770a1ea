#if canImport(Glibc)
import Glibc
#endif

/// Reading `Cookie` headers and writing `Set-Cookie` values.
enum Cookie {
    /// The values of every cookie called `name` in a `Cookie` header, in order.
    /// Scans UTF-8 bytes (the delimiters are ASCII): this runs on every request.
    static func values(named name: String, in header: String) -> [Substring] {
        var found: [Substring] = []
        let bytes = header.utf8
        let nameBytes = name.utf8
        let end = bytes.endIndex
        var index = bytes.startIndex
        while index < end {
            while index < end, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") {
                index = bytes.index(after: index)
            }
            let pairEnd = bytes[index...].firstIndex(of: UInt8(ascii: ";")) ?? end
            if bytes[index..<pairEnd].starts(with: nameBytes),
                let equals = bytes.index(index, offsetBy: nameBytes.count, limitedBy: pairEnd),
                equals < pairEnd, bytes[equals] == UInt8(ascii: "=")
            {
                var valueStart = bytes.index(after: equals)
                var valueEnd = pairEnd
                while valueEnd > valueStart,
                    bytes[bytes.index(before: valueEnd)] == UInt8(ascii: " ")
                        || bytes[bytes.index(before: valueEnd)] == UInt8(ascii: "\t")
                {
                    valueEnd = bytes.index(before: valueEnd)
                }
                if bytes.distance(from: valueStart, to: valueEnd) >= 2, bytes[valueStart] == UInt8(ascii: "\""),
                    bytes[bytes.index(before: valueEnd)] == UInt8(ascii: "\"")
                {
                    valueStart = bytes.index(after: valueStart)
                    valueEnd = bytes.index(before: valueEnd)
                }
                found.append(header[valueStart..<valueEnd])
            }
            index = pairEnd < end ? bytes.index(after: pairEnd) : end
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
