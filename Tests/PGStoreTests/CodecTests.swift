import Testing
@testable import PGStore

/// The codec and encodings need no database.
@Suite("Codec")
struct CodecTests {
    @Test func valueEncodingRoundTripsAndIsDeterministic() throws {
        let values: [String: SessionValue] = [
            "b": true, "a": 1, "d": 2.5, "s": "ünï 🎉", "n": nil, "list": [1, "x", [false]], "obj": ["k": ["z": 0]],
        ]
        let encoded = ValueEncoding.encode(values)
        #expect(try ValueEncoding.decode(encoded) == values)
        var copy: [String: SessionValue] = [:]
        for key in values.keys.reversed() { copy[key] = values[key] }
        #expect(ValueEncoding.encode(copy) == encoded)
    }

    @Test func valueDecodingRejectsEveryTruncation() throws {
        let encoded = ValueEncoding.encode(["key": "value", "n": [1, 2, 3]])
        for length in 0..<encoded.count {
            #expect(throws: (any Error).self) { try ValueEncoding.decode(Array(encoded.prefix(length))) }
        }
        var deep: [UInt8] = []
        for _ in 0..<10_000 { deep += [6, 1] }  // arrays nested 10,000 deep
        #expect(throws: (any Error).self) { try ValueEncoding.decode([7, 1, 1, 0x61] + deep) }
    }

    @Test func base64URLIsCanonical() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            let text = Base64URL.encode(bytes)
            #expect(Base64URL.decode(Substring(text).utf8) == bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
        }
        #expect(Base64URL.decode(Substring("AB").utf8) == nil, "non-zero leftover bits")
        #expect(Base64URL.decode(Substring("A").utf8) == nil)
        for bad in ["AB+C", "AB/C", "AB=C", "ABC=", "AB C", "ABé0", "AAAA\u{0}AAA", "AAAAAAAAAAAAAAA~"] {
            #expect(Base64URL.decode(Substring(bad).utf8) == nil, "\(bad) is not base64url")
        }
        // The last group's spare bits must be zero whatever the length.
        #expect(Base64URL.decode(Substring("AAAAAB").utf8) == nil)
        #expect(Base64URL.decode(Substring("AAAAAAB").utf8) == nil)
        #expect(Base64URL.decode(Substring("AAAAAAE").utf8) == [0, 0, 0, 0, 1])
    }

    @Test func valueDecodingRejectsInvalidUTF8AndKeepsNonASCII() throws {
        let values: [String: SessionValue] = ["ключ": "значение", "emoji": "🎉", "ascii": "plain"]
        #expect(try ValueEncoding.decode(ValueEncoding.encode(values)) == values)
        let encoded = ValueEncoding.encode(["k": "abc"])
        let at = try #require(encoded.lastIndex(of: UInt8(ascii: "a")))
        for bad: [UInt8] in [[0xff, 0x62, 0x63], [0xc3, 0x28, 0x63], [0xe0, 0x80, 0x80]] {
            var corrupted = encoded
            corrupted.replaceSubrange(at..<at + 3, with: bad)
            #expect(throws: (any Error).self) { try ValueEncoding.decode(corrupted) }
        }
    }

    @Test func keysAreChecked() {
        #expect(throws: SessionStoreError.self) { try SessionKey(hashKey: [UInt8](repeating: 1, count: 31)) }
        #expect(throws: SessionStoreError.self) {
            try SessionKey(hashKey: [UInt8](repeating: 1, count: 32), encryptionKey: [UInt8](repeating: 1, count: 20))
        }
        #expect(throws: SessionStoreError.self) { try SessionCodec(keys: []) }
    }

    @Test func cookieParsingAndFormatting() {
        #expect(Cookie.values(named: "sid", in: "a=1; sid=xyz; b=2; sid=\"q\"") == ["xyz", "q"])
        #expect(Cookie.values(named: "sid", in: "xsid=1;sidx=2").isEmpty)
        #expect(Cookie.values(named: "sid", in: " \tsid=a b \t;sid=;sid;é=1;sid=\"\"") == ["a b", "", ""])
        #expect(Cookie.values(named: "név", in: "név=ü; sid=1") == ["ü"])
        #expect(Cookie.values(named: "sid", in: "").isEmpty)
        var options = SessionOptions()
        options.secure = true
        options.partitioned = true
        options.domain = "example.com"
        let header = Cookie.setCookie(name: "sid", value: "v", options: options, now: 784_111_777)
        #expect(header == "sid=v; Path=/; Domain=example.com; Max-Age=2592000; Expires=Tue, 06 Dec 1994 08:49:37 GMT; Secure; HttpOnly; SameSite=Lax; Partitioned")
    }

    @Test func cookiesBindNameAndExpire() throws {
        let codec = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)])
        let id = SessionCodec.randomID()
        let cookie = codec.sealCookie(id: id, name: "sid", issuedAt: 1_000)
        #expect(try codec.openCookie(Substring(cookie), name: "sid", now: 1_010, maxAge: 60).get() == Base64URL.encode(id))
        #expect(throws: (any Error).self) { try codec.openCookie(Substring(cookie), name: "other", now: 1_010, maxAge: 60).get() }
        #expect(throws: (any Error).self) { try codec.openCookie(Substring(cookie), name: "sid", now: 1_061, maxAge: 60).get() }
        // The ID read before verification (as get does) comes back only when the cookie verifies.
        let claimed = try #require(SessionCodec.claimedCookie(in: Substring(cookie)))
        #expect(claimed.id == Base64URL.encode(id))
        #expect(try codec.openCookie(claimed, name: "sid", now: 1_010, maxAge: 60).get() == claimed.id)
        #expect(throws: (any Error).self) { try codec.openCookie(claimed, name: "other", now: 1_010, maxAge: 60).get() }
        #expect(throws: (any Error).self) { try codec.openCookie(claimed, name: "sid", now: 1_061, maxAge: 60).get() }
        var forged = try #require(Base64URL.decode(Substring(cookie).utf8))
        forged[forged.count - 1] ^= 1
        let forgedCookie = try #require(SessionCodec.claimedCookie(in: Substring(Base64URL.encode(forged))))
        #expect(forgedCookie.id == claimed.id)
        #expect(throws: (any Error).self) { try codec.openCookie(forgedCookie, name: "sid", now: 1_010, maxAge: 60).get() }
        let data = try codec.sealData([1, 2, 3], sessionID: "a")
        #expect(codec.openData(data, sessionID: "a") == [1, 2, 3])
        #expect(codec.openData(data, sessionID: "b") == nil, "data is bound to its session ID")
    }

    @Test func cookiesAreSignedAndDataIsEncrypted() throws {
        let codec = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)])
        let id = SessionCodec.randomID()
        let cookie = try #require(Base64URL.decode(Substring(codec.sealCookie(id: id, name: "sid", issuedAt: 1_000)).utf8))
        // version 1 | issued-at | ID | MAC: the ID in the clear, nothing else.
        #expect(cookie.count == 1 + 8 + SessionCodec.idSize + SessionCodec.macSize)
        #expect(cookie.first == SessionCodec.signedVersion)
        #expect(Array(cookie[9..<41]) == id)
        let plaintext = Array("a secret value of the session".utf8)
        let data = try codec.sealData(plaintext, sessionID: "a")
        // version 4 | nonce | ciphertext | tag: AES-GCM alone, no MAC on top; the plaintext is
        // tag | ID length | ID | values.
        #expect(data.first == SessionCodec.aeadVersion)
        #expect(data.count == 1 + 12 + (2 + 1 + plaintext.count) + 16)
        #expect(!data.indices.contains { data[$0...].starts(with: plaintext.prefix(8)) }, "the values are not in the clear")
        let signedOnly = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA)])
        #expect(try signedOnly.sealData(plaintext, sessionID: "a").first == SessionCodec.signedVersion)
    }

    @Test func encryptedDataOpensOnlyWhole() throws {
        let codec = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)])
        let data = try codec.sealData(Array("values".utf8), sessionID: "a")
        #expect(codec.openData(data, sessionID: "a") == Array("values".utf8))
        for index in data.indices {
            var tampered = data
            tampered[index] ^= 0x01
            #expect(codec.openData(tampered, sessionID: "a") == nil, "byte \(index) flipped")
        }
        for length in 0..<data.count {
            #expect(codec.openData(Array(data.prefix(length)), sessionID: "a") == nil, "cut to \(length) bytes")
        }
        // Another key's encryption key, or none, opens nothing; a rotated store opens it with its second key.
        let other = try SessionKey(hashKey: hashKeyB, encryptionKey: encryptionKeyB)
        #expect(try SessionCodec(keys: [other]).openData(data, sessionID: "a") == nil)
        #expect(try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA)]).openData(data, sessionID: "a") == nil)
        let rotated = try SessionCodec(keys: [other, try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)])
        #expect(rotated.openData(data, sessionID: "a") == Array("values".utf8))
    }

    @Test func encryptedDataIsBoundToItsSessionID() throws {
        let codec = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)])
        let id = SessionCodec.newSessionID(hour: nil)
        let data = try codec.sealData(Array("values".utf8), sessionID: id)
        #expect(codec.openData(data, sessionID: id) == Array("values".utf8))
        // Copied into the row of another session: one that differs in its last character, one
        // that is a prefix of it, one that extends it, an unrelated one.
        var lastChanged = Array(id.utf8)
        lastChanged[lastChanged.count - 1] ^= 0x01
        let others = [String(decoding: lastChanged, as: UTF8.self), String(id.dropLast()), id + "A", SessionCodec.newSessionID(hour: nil)]
        for other in others {
            #expect(codec.openData(data, sessionID: other) == nil, "opened as \(other)")
        }
    }

    @Test func sessionIDsBeginWithTheirHourAndAreRandomAfterIt() throws {
        let hour: Int64 = 495_123  // 2026-06-25, 03:00 UTC
        let ids = (0..<50).map { _ in SessionCodec.newSessionID(hour: hour) }
        for id in ids {
            #expect(try hourOfID(id) == hour)
            #expect(id.prefix(4) == ids[0].prefix(4), "IDs of one hour share their first four characters")
        }
        #expect(Set(ids.map { $0.dropFirst(4) }).count == ids.count, "the 29 bytes after the hour are random")
        #expect(SessionCodec.newSessionID(hour: hour + 1).prefix(4) != ids[0].prefix(4))
        // Without an hour all 32 bytes are random: 50 IDs do not share a 3-byte start.
        let random = (0..<50).map { _ in SessionCodec.newSessionID(hour: nil) }
        #expect(Set(random.map { $0.prefix(4) }).count > 1)
    }

    @Test func anOverlongSessionIDIsAnErrorNotATrap() throws {
        let codec = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)])
        let longest = String(repeating: "a", count: 255)
        let data = try codec.sealData(Array("values".utf8), sessionID: longest)
        #expect(codec.openData(data, sessionID: longest) == Array("values".utf8))
        let error = #expect(throws: SessionStoreError.self) { try codec.sealData(Array("values".utf8), sessionID: longest + "a") }
        #expect(error?.code == .dataTooLarge)
    }

    /// Decodes data sealed by an earlier codec (key A, session ID "fixture-id", the values
    /// ["user": "ada", "visits": 3]), checks its version, and that today's codec opens it for that
    /// session and no other. Returns the bytes and the codec for the version's own checks.
    private func expectEarlierDataOpens(_ encoded: String, version: UInt8) throws -> (data: [UInt8], codec: SessionCodec) {
        let earlier = try #require(Base64URL.decode(Substring(encoded).utf8))
        #expect(earlier.first == version)
        let codec = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)])
        let values = try earlier.withUnsafeBytes { try #require(codec.openValues($0, sessionID: "fixture-id")) }
        #expect(values == ["user": "ada", "visits": 3])
        #expect(earlier.withUnsafeBytes { codec.openValues($0, sessionID: "other-id") } == nil)
        return (earlier, codec)
    }

    @Test func dataSealedAsVersion3StillOpens() throws {
        // Sealed by the codec of 2026-12-02 (version 3: AES-GCM, the session ID as associated data).
        let (earlier, codec) = try expectEarlierDataOpens(
            "A28tLmm49o1ejMQjaCkm1SJYGEXNJ04IiiAmxcHV38Br3p8kNYHzurToVAYROs2i9SpB0BSeyuzm",
            version: SessionCodec.associatedIDVersion)
        for index in earlier.indices {
            var tampered = earlier
            tampered[index] ^= 0x01
            #expect(tampered.withUnsafeBytes { codec.openValues($0, sessionID: "fixture-id") } == nil, "byte \(index) flipped")
        }
        // A rotated store opens it with its second key.
        let rotated = try SessionCodec(keys: [
            try SessionKey(hashKey: hashKeyB, encryptionKey: encryptionKeyB),
            try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA),
        ])
        #expect(earlier.withUnsafeBytes { rotated.openValues($0, sessionID: "fixture-id") } == ["user": "ada", "visits": 3])
    }

    @Test func dataSealedBeforeVersion3StillOpens() throws {
        // Sealed by the codec of 2026-12-01 (version 2: AES-GCM, then HMAC-SHA256).
        let (earlier, codec) = try expectEarlierDataOpens(
            "AiHLnsjCXWZW0_REXFqRd8Y4JtpssurN-Dhma92K9i8Khf1AYnouehX6jhwlgWKVjae0gMEgfFzV5rjA2ZDKWK7UmsO1164VGOFAnipT9jpCSbGBCYxVIRE",
            version: SessionCodec.encryptedVersion)
        var tampered = earlier
        tampered[tampered.count - 1] ^= 0x01  // the MAC
        #expect(tampered.withUnsafeBytes { codec.openValues($0, sessionID: "fixture-id") } == nil)
    }

    @Test func encryptedCookiesOfEarlierReleasesStillOpen() throws {
        // Sealed by the codec before cookies became signed-only (version 2: the ID AES-GCM
        // sealed), with key A, name "sid", issued at 1,000, ID = bytes 0...31.
        let earlier = "AgAAAAAAAAPoinj_QGa-A9okdksixWzIXt1-G-AnLRSHBYapJhXu_IH-OjJuPYUx2QSxmxhsJvOkRpNB9KRDaaDPW2JA8a74zFqlmPrNb-jKdJo0s11b6jMHWp67MBaTvdtsTsI"
        let codec = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA, encryptionKey: encryptionKeyA)])
        let id = Base64URL.encode((0..<32).map { UInt8($0) })
        #expect(try codec.openCookie(Substring(earlier), name: "sid", now: 1_010, maxAge: 60).get() == id)
        #expect(throws: (any Error).self) { try codec.openCookie(Substring(earlier), name: "other", now: 1_010, maxAge: 60).get() }
        #expect(throws: (any Error).self) { try codec.openCookie(Substring(earlier), name: "sid", now: 1_061, maxAge: 60).get() }
        let withoutItsEncryptionKey = try SessionCodec(keys: [try SessionKey(hashKey: hashKeyA)])
        #expect(throws: (any Error).self) {
            try withoutItsEncryptionKey.openCookie(Substring(earlier), name: "sid", now: 1_010, maxAge: 60).get()
        }
    }
}
