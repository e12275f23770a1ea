#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Keeps passwords from a connection string out of every error message and log line.
///
/// libpq does not echo passwords in its messages today, but a parse error may quote the part of
/// the string it choked on. Every message that could contain text from the connection string goes
/// through ``redact(_:)``, which replaces any password it knows of.
struct SecretRedactor: Sendable {
    private let secrets: [String]

    init(conninfo: String) {
        var found: [String] = []
        // URL form: scheme://user:password@host...
        if let schemeEnd = conninfo.firstRange(of: "://") {
            let afterScheme = conninfo[schemeEnd.upperBound...]
            let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
            let authority = afterScheme[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                let password = String(authority[authority.index(after: colon)..<at])
                found.append(password)
                if let decoded = password.removingPercentEncodingSafely() { found.append(decoded) }
            }
        }
        // key=value form and URL query form: password=...
        var rest = Substring(conninfo)
        while let range = rest.firstRange(of: "password=") {
            var value = rest[range.upperBound...]
            if value.first == "'" {
                value = value.dropFirst()
                let end = value.firstIndex(of: "'") ?? value.endIndex
                found.append(String(value[..<end]))
            } else {
                let end = value.firstIndex(where: { $0 == " " || $0 == "&" }) ?? value.endIndex
                let raw = String(value[..<end])
                found.append(raw)
                if let decoded = raw.removingPercentEncodingSafely() { found.append(decoded) }
            }
            rest = rest[range.upperBound...]
        }
        secrets = found.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    func redact(_ message: String) -> String {
        var text = message
        for secret in secrets {
            text = text.replacingAll(secret, with: "***")
        }
        return text
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }

    /// Percent-decoding that returns nil (instead of trapping or guessing) on malformed input.
    func removingPercentEncodingSafely() -> String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
