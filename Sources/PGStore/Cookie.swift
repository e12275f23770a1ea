#if canImport(Glibc)
import Glibc
#endif

/// Reading `Cookie` headers and writing `Set-Cookie` values.
enum Cookie {
    /// The values of every cookie called `name` in a `Cookie` header, in order.
    static func values(named name: String, in header: String) -> [Substring] {
        var values: [Substring] = []
        var offset = 0
        while let (value, next) = value(named: name, in: header, from: offset) {
            values.append(value)
            offset = next
        }
        return values
    }

    /// The first value of a cookie called `name` that starts at or after UTF-8 offset `start` of
    /// `header`, and the offset to look for the next one from. Scans the header's bytes in place
    /// (the delimiters are ASCII) and allocates nothing: this runs on every request.
    @inline(never)  // keeps its temporaries out of callers' async frames (see SessionCodec)
    static func value(named name: String, in header: String, from start: Int) -> (value: Substring, next: Int)? {
        var name = name
        let found = header.utf8.withContiguousStorageIfAvailable { bytes in
            name.withUTF8 { valueRange(named: $0, in: bytes, from: start) }
        }
        guard let found else {
            // A bridged string without contiguous UTF-8: scan a native copy.
            var copy = header
            copy.makeContiguousUTF8()
            return value(named: name, in: copy, from: start)
        }
        guard let (range, next) = found else { return nil }
        let utf8 = header.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let upper = utf8.index(utf8.startIndex, offsetBy: range.upperBound)
        return (header[lower..<upper], next)
    }

    /// The byte range of the first value of cookie `name` at or after `start`, and where the
    /// next cookie pair begins.
    private static func valueRange(
        named name: UnsafeBufferPointer<UInt8>, in bytes: UnsafeBufferPointer<UInt8>, from start: Int
    ) -> (Range<Int>, next: Int)? {
        let end = bytes.count
        func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var index = start
        while index < end {
            while index < end, isSpace(bytes[index]) { index += 1 }
            let pairEnd = firstSemicolon(in: bytes, from: index)
            let equals = index + name.count
            if equals < pairEnd, bytes[equals] == UInt8(ascii: "="),
                name.elementsEqual(UnsafeBufferPointer(rebasing: bytes[index..<equals]))
            {
                var valueStart = equals + 1
                var valueEnd = pairEnd
                while valueEnd > valueStart, isSpace(bytes[valueEnd - 1]) { valueEnd -= 1 }
                if valueEnd - valueStart >= 2, bytes[valueStart] == UInt8(ascii: "\""), bytes[valueEnd - 1] == UInt8(ascii: "\"") {
                    valueStart += 1
                    valueEnd -= 1
                }
                return (valueStart..<valueEnd, pairEnd + 1)
            }
            index = pairEnd + 1
        }
        return nil
    }

    /// The offset of the first `;` at or after `start`, or `bytes.count`. With `memchr`, which
    /// compares many bytes at once: a session cookie's value is about 100 bytes, and the byte
    /// loop before took about 0.7% of a get's client CPU (perf, 2026-12-04).
    private static func firstSemicolon(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard start < bytes.count, let base = bytes.baseAddress,
            let found = memchr(base + start, Int32(UInt8(ascii: ";")), bytes.count - start)
        else { return bytes.count }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base)
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

    /// The current Unix time in seconds, from the kernel's coarse clock: it is read on every get
    /// (the cookie's age), and a cookie's times are whole seconds, so the coarse clock's
    /// resolution of a few milliseconds loses nothing. It costs 6.5 ns against 29-53 ns for
    /// `CLOCK_REALTIME` on this VM (2,000,000 reads each, 2026-12-04).
    static func unixNow() -> Int64 {
        var now = timespec()
        if clock_gettime(CLOCK_REALTIME_COARSE, &now) != 0 { clock_gettime(CLOCK_REALTIME, &now) }
        return Int64(now.tv_sec)
    }
}
