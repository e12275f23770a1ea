#if canImport(Glibc)
import Glibc
#endif

/// Reading `Cookie` headers and writing `Set-Cookie` values.
enum Cookie {
    /// The values of every cookie called `name` in a `Cookie` header, in order.
    static func values(named name: String, in header: String) -> [Substring] {
        var found: [Substring] = []
        for pair in header.split(separator: ";") {
            let trimmed = pair.drop(while: { $0 == " " || $0 == "\t" })
            guard let equals = trimmed.firstIndex(of: "=") else { continue }
            if trimmed[..<equals] == name {
                var value = trimmed[trimmed.index(after: equals)...]
                while value.last == " " || value.last == "\t" { value = value.dropLast() }
                if value.first == "\"", value.last == "\"", value.count >= 2 { value = value.dropFirst().dropLast() }
                found.append(value)
            }
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
