public import Crypto

/// One key pair of a ``SessionStore``: a hash key that authenticates (HMAC-SHA256) cookies, and
/// the data in the database when there is no encryption key; and an optional encryption key that
/// encrypts and authenticates (AES-GCM) the data.
///
/// The cookie is signed, not encrypted: it carries only the session ID (the hour it was made and
/// 29 random bytes), which encryption would not make any less of a bearer token.
///
/// Give the store several pairs to rotate keys: the first signs and encrypts, every pair verifies
/// and decrypts, so cookies and rows written under an old pair keep working until they expire.
public struct SessionKey: Sendable {
    let hashKey: SymmetricKey
    let encryptionKey: SymmetricKey?

    /// Creates a key pair from raw bytes.
    /// - Parameters:
    ///   - hashKey: at least 32 bytes, for HMAC-SHA256.
    ///   - encryptionKey: 16, 24 or 32 bytes (AES-128, -192, -256), or `nil` to sign without
    ///     encrypting.
    /// - Throws: ``SessionStoreError`` with code ``SessionStoreError/Code/invalidKey`` for keys of the
    ///   wrong size.
    public init(hashKey: [UInt8], encryptionKey: [UInt8]? = nil) throws {
        guard hashKey.count >= 32 else {
            throw SessionStoreError(.invalidKey, "the hash key must be at least 32 bytes, got \(hashKey.count)")
        }
        if let encryptionKey, ![16, 24, 32].contains(encryptionKey.count) {
            throw SessionStoreError(.invalidKey, "the encryption key must be 16, 24 or 32 bytes, got \(encryptionKey.count)")
        }
        self.hashKey = SymmetricKey(data: hashKey)
        self.encryptionKey = encryptionKey.map { SymmetricKey(data: $0) }
    }

    /// Creates a key pair from swift-crypto keys.
    /// - Throws: ``SessionStoreError`` with code ``SessionStoreError/Code/invalidKey`` for keys of the
    ///   wrong size.
    public init(hashKey: SymmetricKey, encryptionKey: SymmetricKey? = nil) throws {
        try self.init(
            hashKey: hashKey.withUnsafeBytes { Array($0) },
            encryptionKey: encryptionKey.map { $0.withUnsafeBytes { Array($0) } })
    }

    /// A fresh random pair (a 64-byte hash key, and a 32-byte encryption key when `encrypted`).
    /// Sessions sealed with it are unreadable after a restart unless you keep the bytes.
    public static func random(encrypted: Bool = true) -> SessionKey {
        SessionKey(
            uncheckedHashKey: SymmetricKey(size: SymmetricKeySize(bitCount: 512)),
            encryptionKey: encrypted ? SymmetricKey(size: .bits256) : nil)
    }

    private init(uncheckedHashKey: SymmetricKey, encryptionKey: SymmetricKey?) {
        self.hashKey = uncheckedHashKey
        self.encryptionKey = encryptionKey
    }
}
