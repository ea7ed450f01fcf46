import Foundation
import Testing
import TesseraPoolAPI
@testable import TesseraController

/// User tokens without a network: hashing (FIPS 180-4 vectors), issue/verify/expire/revoke in the token book,
/// durability as hashes only, and the lease rules that identity adds (owner, attach only by the lease's user).
@Suite struct TokenTests {
    @Test func hashIsSHA256() {
        #expect(UserToken.hash(of: "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(UserToken.hash(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(UserToken.hash(of: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(UserToken.hash(of: String(repeating: "a", count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func issueVerifyExpireRevoke() throws {
        var book = TokenBook()
        let (alice, _) = try book.issue(TokenRequest(user: "alice", group: "cs101"), id: "tok-1", secret: "tsr_a", now: 100)
        let (bob, _) = try book.issue(TokenRequest(user: "bob", expiresInSeconds: 60), id: "tok-2", secret: "tsr_b", now: 100)
        #expect(alice.role == .user && alice.group == "cs101" && alice.expiresAt == nil)
        #expect(try book.verify(secret: "tsr_a", now: 1e9) == TokenIdentity(tokenID: "tok-1", user: "alice", group: "cs101"))
        #expect(try book.verify(secret: "tsr_b", now: 159).user == "bob")
        // Wrong, expired and revoked tokens are refused, each saying why.
        let wrong = #expect(throws: PoolError.self) { try book.verify(secret: "tsr_c", now: 100) }
        #expect(wrong?.code == .unauthorized && wrong?.message.contains("not a valid user token") == true)
        let expired = #expect(throws: PoolError.self) { try book.verify(secret: "tsr_b", now: 160) }
        #expect(expired?.message.contains("expired") == true)
        _ = try book.revoke("tok-1", now: 200)
        let revoked = #expect(throws: PoolError.self) { try book.verify(secret: "tsr_a", now: 201) }
        #expect(revoked?.message.contains("revoked") == true)
        #expect(book.tokens.map(\.id) == ["tok-1", "tok-2"] && book.tokens[0].revokedAt == 200 && bob.expiresAt == 160)
        #expect(throws: PoolError.self) { try book.revoke("tok-9", now: 1) }
        // Bad requests lose nothing.
        for bad in [TokenRequest(user: ""), TokenRequest(user: "a b"), TokenRequest(user: "t", role: .teacher),
                    TokenRequest(user: "x", expiresInSeconds: -1), TokenRequest(user: "x", group: "no/slash")] {
            #expect(throws: PoolError.self) { try book.issue(bad, id: "tok-3", secret: "tsr_x", now: 1) }
        }
        #expect(book.tokens.count == 2)
        #expect(try book.issue(TokenRequest(user: "t", group: "cs101", role: .teacher), id: "tok-3", secret: "tsr_t", now: 1).0.role == .teacher)
    }

    @Test func storeKeepsOnlyHashes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-tokens-\(UUID().uuidString)/state.sqlite").path
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        var book = TokenBook()
        let secret = "tsr_" + String(repeating: "5ec7e7", count: 10)
        let store = try LeaseStore(path: path)
        let (token, hash) = try book.issue(TokenRequest(user: "carol", group: "lab"), id: "tok-c", secret: secret, now: 5)
        try store.putToken(token, hash: hash)
        var revoked = token
        revoked.revokedAt = 9
        try store.putToken(revoked, hash: hash)
        store.close()
        let reopened = try LeaseStore(path: path)
        let loaded = try reopened.loadTokens()
        reopened.close()
        #expect(loaded.count == 1 && loaded[0].hash == hash && loaded[0].token == revoked)
        #expect(throws: PoolError.self) { try TokenBook(loaded).verify(secret: secret, now: 10) }
        // The secret appears nowhere in the database's files.
        for file in try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent) {
            let data = try Data(contentsOf: URL(fileURLWithPath: (path as NSString).deletingLastPathComponent).appendingPathComponent(file))
            #expect(data.range(of: Data(secret.utf8)) == nil, "\(file) holds the secret")
        }
    }

    @Test func leasesCarryTheIdentityAndAttachOnlyForItsUser() throws {
        var p = try PoolStateTests.pool(nodes: [PoolStateTests.node("a", gpus: 1, memoryMiB: 1024), PoolStateTests.node("b", gpus: 1, memoryMiB: 1024)])
        let alice = TokenIdentity(tokenID: "tok-1", user: "alice", group: "cs101")
        let request = LeaseRequest(spec: VirtualGPUSpec(vgpus: 2, memoryMiB: 768, preferredNode: "a"), requester: "a", program: "",
                                   owner: "10.0.0.5:4000", identity: alice)
        let (lease, _) = try p.grant(request, now: 1, secret: "s3cret")
        #expect(lease.owner == "alice" && lease.user == "alice" && lease.group == "cs101" && lease.tokenID == "tok-1")
        // A heartbeat naming the program does not replace the user by a uid.
        _ = p.heartbeat(node: "a", NodeHeartbeat(gpus: [], sessions: [SessionReport(session: 1, lease: lease.id, program: "", pid: -1, uid: -1,
                                                                                      usedMemoryMiB: 0)]), now: 2)
        #expect(p.leases[lease.id]?.owner == "alice")
        // Another user (or none) holding the secret cannot attach; the right user can, once per node.
        for user in ["mallory", nil] as [String?] {
            let e = #expect(throws: PoolError.self) { try p.attach(lease: lease.id, LeaseAttachRequest(node: "b", secret: "s3cret", user: user), now: 3) }
            #expect(e?.code == .unauthorized)
        }
        #expect(try p.attach(lease: lease.id, LeaseAttachRequest(node: "b", secret: "s3cret", user: "alice"), now: 3).0.attachedNodes == ["b"])
        #expect(throws: PoolError.self) { try p.attach(lease: lease.id, LeaseAttachRequest(node: "b", secret: "s3cret", user: "alice"), now: 4) }
        // A document without the new fields (an earlier node) still decodes.
        let old = try JSONDecoder().decode(LeaseRequest.self, from: Data(#"{"spec": {}, "requester": "a"}"#.utf8))
        #expect(old.identity == nil)
    }
}
