#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One HTTP session: its ID, values and cookie options.
///
/// A `Sendable` value. Change ``values`` (or use the `Codable` accessors and flashes), then pass it
/// to ``SessionStore/save(_:)``, which writes it only when something changed.
public struct Session: Sendable {
    /// Why the store handed out a fresh session instead of a stored one.
    public struct FreshReason: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The request carried no cookie with this name.
        public static let noCookie = FreshReason(name: "noCookie")
        /// The cookie is not a value this store writes (bad encoding, wrong length, too long).
        public static let malformed = FreshReason(name: "malformed")
        /// The cookie's signature does not verify with any key (tampered, another key, another
        /// cookie name).
        public static let badSignature = FreshReason(name: "badSignature")
        /// The cookie is older than the store's `maxAge`.
        public static let expired = FreshReason(name: "expired")
        /// No live row has this ID (destroyed, expired, or cleaned up).
        public static let notFound = FreshReason(name: "notFound")
        /// The stored data does not verify or decode.
        public static let corruptData = FreshReason(name: "corruptData")
        /// Made by ``SessionStore/new(name:)``.
        public static let requested = FreshReason(name: "requested")
        /// A short text for logs; it never contains secrets.
        public var description: String { name }
    }

    /// The session ID: 32 bytes, base64url, the first 3 the hour it was made (see
    /// ``SessionStore/Configuration/idsBeginWithCreationHour``), the rest random. It is the row's
    /// key; the cookie carries it signed.
    public internal(set) var id: String
    /// The cookie name.
    public let name: String
    /// The session's values.
    public var values: [String: SessionValue]
    /// This session's own cookie options (a copy of the store's defaults).
    public var options: SessionOptions
    /// Whether the session has no row yet (it is saved with an INSERT under a fresh ID).
    public internal(set) var isNew: Bool
    /// Why this is a fresh session, or `nil` when it was loaded from the database.
    public internal(set) var freshReason: FreshReason?

    /// The values as loaded (to tell whether a save must write).
    var storedValues: [String: SessionValue]?
    /// Whether the row's expiry is due to be pushed forward.
    var touchDue: Bool = false
    /// The fingerprint of the data the row held when the session was loaded or last written:
    /// a save whose row no longer has it merges (see ``ConcurrentSaveMerge``).
    var storedFingerprint: DataFingerprint?

    /// Records that the row now holds `values`, sealed into data with `fingerprint`.
    mutating func markStored(_ values: [String: SessionValue], fingerprint: DataFingerprint?) {
        isNew = false
        freshReason = nil
        self.values = values
        storedValues = values
        storedFingerprint = fingerprint
        touchDue = false
    }

    /// Whether ``values`` differ from what is stored.
    public var hasChanges: Bool { isNew || storedValues != values }

    /// Whether ``SessionStore/save(_:)`` would write anything worth a `Set-Cookie`: a new session
    /// with values, changed values, or an expiry that is due to move. A fresh session nobody put
    /// a value in is not worth a row.
    public var needsSave: Bool {
        if options.maxAge < 0 { return !isNew }
        return isNew ? !values.isEmpty : (storedValues != values || touchDue)
    }

    // MARK: Flashes

    /// The key flashes live under unless another is given.
    public static let defaultFlashKey = "_flash"

    /// Adds a flash message, kept until ``flashes(key:)`` reads it.
    public mutating func addFlash(_ value: SessionValue, key: String = Session.defaultFlashKey) {
        var list = values[key]?.arrayValue ?? []
        list.append(value)
        values[key] = .array(list)
    }

    /// Returns the flash messages and removes them (save the session to make that stick).
    public mutating func flashes(key: String = Session.defaultFlashKey) -> [SessionValue] {
        guard let list = values.removeValue(forKey: key) else { return [] }
        return list.arrayValue ?? [list]
    }

    // MARK: Codable values

    /// Stores any `Encodable` value under `key` (as its JSON form).
    /// - Throws: ``SessionStoreError`` (``SessionStoreError/Code/valueConversion``) when it does not encode.
    public mutating func set<T: Encodable>(_ value: T, forKey key: String) throws {
        do {
            let json = try JSONEncoder().encode(value)
            values[key] = try JSONDecoder().decode(SessionValue.self, from: json)
        } catch {
            throw SessionStoreError(.valueConversion, "could not encode \(T.self) for key \(key)")
        }
    }

    /// Reads the value under `key` as `T`, or `nil` when there is none.
    /// - Throws: ``SessionStoreError`` (``SessionStoreError/Code/valueConversion``) when the value is
    ///   not a `T`.
    public func get<T: Decodable>(_ type: T.Type, forKey key: String) throws -> T? {
        guard let value = values[key] else { return nil }
        do {
            let json = try JSONEncoder().encode(value)
            return try JSONDecoder().decode(T.self, from: json)
        } catch {
            throw SessionStoreError(.valueConversion, "the value for key \(key) is not a \(T.self)")
        }
    }
}

extension Session {
    /// A session as the store hands it out. In an extension so that it can build the session
    /// with the memberwise initializer, in one piece: assigned field by field, the optimizer left
    /// a retain and a release of every field of the finished session in place (fifteen
    /// reference-count operations per get).
    init(id: String, name: String, values: [String: SessionValue], options: SessionOptions, isNew: Bool,
         freshReason: FreshReason?, touchDue: Bool = false, storedFingerprint: DataFingerprint? = nil) {
        self.init(
            id: id, name: name, values: values, options: options, isNew: isNew, freshReason: freshReason,
            storedValues: isNew ? nil : values, touchDue: touchDue, storedFingerprint: storedFingerprint)
    }
}
