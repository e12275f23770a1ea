/// The cookie attributes of a session.
///
/// Every session gets its own copy of the store's defaults (it is a value type), so changing one
/// session's options never changes another's or the store's.
public struct SessionOptions: Sendable, Hashable {
    /// The cookie's `SameSite` attribute.
    public struct SameSite: Sendable, Hashable, CustomStringConvertible {
        let value: String
        /// `SameSite=Lax`: sent on top-level navigations from other sites (the default).
        public static let lax = SameSite(value: "Lax")
        /// `SameSite=Strict`: never sent from other sites.
        public static let strict = SameSite(value: "Strict")
        /// `SameSite=None`: sent everywhere; browsers require `secure` with it.
        public static let none = SameSite(value: "None")
        /// A short text for logs; it never contains secrets.
        public var description: String { value }
    }

    /// `Path`. Default `/`.
    public var path: String = "/"
    /// `Domain`. Default `nil` (the host that set it).
    public var domain: String?
    /// Lifetime in seconds: `Max-Age` of the cookie and lifetime of the row. `0` makes a browser
    /// session cookie (the row then lives for the store's `maxAge`); a negative value deletes the
    /// session on save. Default 30 days (2,592,000).
    public var maxAge: Int = 86_400 * 30
    /// `Secure`: only sent over HTTPS. Default `false` so that plain-HTTP development works; turn it
    /// on in production.
    public var secure: Bool = false
    /// `HttpOnly`: hidden from JavaScript. Default `true`.
    public var httpOnly: Bool = true
    /// `SameSite`. Default ``SameSite/lax``.
    public var sameSite: SameSite? = .lax
    /// `Partitioned` (CHIPS). Default `false`.
    public var partitioned: Bool = false

    /// The defaults stated on each property.
    public init() {}
}
