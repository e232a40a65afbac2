-- Whether a user may use persistent chat: provisioned to clients as EnablePersistentChat,
-- and enforced by the channel service (docs/protocol.md, "Lync 2013 fidelity"). On unless
-- an administrator turns it off (`parlance user chat <user> off`).
ALTER TABLE principals ADD COLUMN persistent_chat INTEGER NOT NULL DEFAULT 1;
