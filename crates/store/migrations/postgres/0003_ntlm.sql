-- Which authentication mechanisms an account may use: 'digest', 'ntlm', comma-separated.
-- Accounts created before NTLM existed keep Digest only until their password is set again.
ALTER TABLE principals ADD COLUMN mechanisms TEXT COLLATE "C" NOT NULL DEFAULT 'digest';

-- The NT hash (MD4 of the UTF-16LE password) is password-equivalent: stored only sealed with
-- the server key, and only for accounts that allow NTLM.
CREATE TABLE ntlm_secrets (
    principal_id   BIGINT PRIMARY KEY REFERENCES principals(id) ON DELETE CASCADE,
    sealed_nt_hash BYTEA NOT NULL
);
