import Foundation
import GRDB
import TesseraPoolAPI

extension LeaseStore {
    /// The user tokens' table: the SHA-256 of each secret and the token's document; never the secret.
    static func registerTokenMigration(_ m: inout DatabaseMigrator) {
        m.registerMigration("v3-tokens") { db in
            try db.execute(sql: """
                CREATE TABLE token (id TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL UNIQUE, document BLOB NOT NULL);
                """)
        }
    }

    /// Every stored token with its hash.
    public func loadTokens() throws(PoolError) -> [(hash: String, token: UserToken)] {
        do {
            return try database.read { db in
                let decoder = JSONDecoder()
                return try Row.fetchAll(db, sql: "SELECT hash, document FROM token").map { row -> (hash: String, token: UserToken) in
                    let hash: String = row["hash"]
                    let document: Data = row["document"]
                    let token = try decoder.decode(UserToken.self, from: document)
                    return (hash: hash, token: token)
                }
            }
        } catch {
            throw PoolError(.storage, "cannot read the tokens: \(error)")
        }
    }

    /// Writes a token (new or revoked) durably before returning. Tokens change rarely, so this does not go
    /// through the group-commit queue.
    public func putToken(_ token: UserToken, hash: String) throws(PoolError) {
        do {
            let document = try JSONEncoder().encode(token)
            try database.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO token (id, hash, document) VALUES (?, ?, ?)", arguments: [token.id, hash, document])
            }
        } catch {
            throw PoolError(.storage, "cannot write token \(token.id): \(error)")
        }
    }
}
