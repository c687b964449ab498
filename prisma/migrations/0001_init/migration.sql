-- CreateTable
CREATE TABLE "Project" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "sourceUrl" TEXT NOT NULL,
    "sourceAuth" TEXT NOT NULL,
    "destinationUrl" TEXT NOT NULL,
    "destinationAuth" TEXT NOT NULL,
    "selfService" TEXT NOT NULL DEFAULT 'source',
    "notify" TEXT NOT NULL DEFAULT 'email',
    "channelRef" TEXT,
    "licensesTotal" INTEGER,
    "licensesUsed" INTEGER NOT NULL DEFAULT 0,
    "digestCron" TEXT DEFAULT '0 9 * * 1-5',
    "digestTz" TEXT,
    "nextDigestAt" DATETIME,
    "lastDigestAt" DATETIME,
    "options" TEXT NOT NULL DEFAULT '{}',
    "createdBy" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Item" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "projectId" TEXT NOT NULL,
    "sourceAddress" TEXT NOT NULL,
    "destinationAddress" TEXT NOT NULL,
    "sourceLogin" TEXT NOT NULL,
    "destinationLogin" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'NotStarted',
    "failureReason" TEXT,
    "failureDetail" TEXT,
    "ask" TEXT NOT NULL,
    "notify" TEXT NOT NULL,
    "threadRef" TEXT,
    "license" TEXT NOT NULL DEFAULT 'none',
    "passCount" INTEGER NOT NULL DEFAULT 0,
    "stopRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseUntil" DATETIME,
    "messagesFound" INTEGER NOT NULL DEFAULT 0,
    "bytesFound" BIGINT NOT NULL DEFAULT 0,
    "messagesCopied" INTEGER NOT NULL DEFAULT 0,
    "bytesCopied" BIGINT NOT NULL DEFAULT 0,
    "messagesPresent" INTEGER NOT NULL DEFAULT 0,
    "messagesSkipped" INTEGER NOT NULL DEFAULT 0,
    "lastPassMs" INTEGER NOT NULL DEFAULT 0,
    "lastPassAt" DATETIME,
    "createdBy" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Item_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Credential" (
    "itemId" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "login" TEXT NOT NULL,
    "nonce" BLOB NOT NULL,
    "ciphertext" BLOB NOT NULL,
    "tag" BLOB NOT NULL,
    "keyId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("itemId", "side"),
    CONSTRAINT "Credential_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "CredentialLink" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "itemId" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "sides" TEXT NOT NULL,
    "recipient" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "usedAt" DATETIME,
    "revokedAt" DATETIME,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "CredentialLink_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ItemEvent" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "projectId" TEXT NOT NULL,
    "itemId" TEXT,
    "address" TEXT,
    "actor" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "fromStatus" TEXT,
    "toStatus" TEXT,
    "detail" TEXT NOT NULL DEFAULT '{}'
);

-- CreateTable
CREATE TABLE "FolderState" (
    "itemId" TEXT NOT NULL,
    "sourceFolder" TEXT NOT NULL,
    "destFolder" TEXT NOT NULL,
    "uidValidity" BIGINT NOT NULL,
    "lastUid" INTEGER NOT NULL DEFAULT 0,
    "messagesFound" INTEGER NOT NULL DEFAULT 0,
    "bytesFound" BIGINT NOT NULL DEFAULT 0,
    "messagesCopied" INTEGER NOT NULL DEFAULT 0,
    "bytesCopied" BIGINT NOT NULL DEFAULT 0,
    "messagesPresent" INTEGER NOT NULL DEFAULT 0,
    "messagesSkipped" INTEGER NOT NULL DEFAULT 0,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("itemId", "sourceFolder"),
    CONSTRAINT "FolderState_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "SkippedMessage" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "itemId" TEXT NOT NULL,
    "sourceFolder" TEXT NOT NULL,
    "uid" INTEGER NOT NULL,
    "size" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "CopyCheckpoint" (
    "itemId" TEXT NOT NULL,
    "sourceFolder" TEXT NOT NULL,
    "srcUidNext" INTEGER NOT NULL DEFAULT 0,
    "srcMessages" INTEGER NOT NULL DEFAULT 0,
    "srcBytes" BIGINT NOT NULL DEFAULT 0,
    "destUidValidity" BIGINT,
    "rematchAll" BOOLEAN NOT NULL DEFAULT false,
    "pendingToUid" INTEGER,
    "pendingDestUidNext" INTEGER,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("itemId", "sourceFolder")
);

-- CreateTable
CREATE TABLE "ChatConversation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "surface" TEXT NOT NULL,
    "reference" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "OutboxPost" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "threadRef" TEXT NOT NULL,
    "itemId" TEXT,
    "address" TEXT,
    "kind" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "replaceKey" TEXT,
    "solo" BOOLEAN NOT NULL DEFAULT false,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "availableAt" DATETIME NOT NULL,
    "claimedBy" TEXT,
    "claimedUntil" DATETIME,
    "state" TEXT,
    "doneAt" DATETIME,
    "lastError" TEXT,
    "createdAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ItemReminder" (
    "itemId" TEXT NOT NULL PRIMARY KEY,
    "projectId" TEXT NOT NULL,
    "anchorAt" DATETIME NOT NULL,
    "sent" INTEGER NOT NULL DEFAULT 0,
    "nextAt" DATETIME,
    "lastAt" DATETIME
);

-- CreateTable
CREATE TABLE "DigestRun" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "projectId" TEXT NOT NULL,
    "at" DATETIME NOT NULL,
    "counts" TEXT NOT NULL,
    "trigger" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "DigestPlan" (
    "projectId" TEXT NOT NULL PRIMARY KEY,
    "schedule" TEXT NOT NULL,
    "plannedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "Project_name_key" ON "Project"("name");

-- CreateIndex
CREATE INDEX "Item_status_idx" ON "Item"("status");

-- CreateIndex
CREATE UNIQUE INDEX "Item_projectId_sourceAddress_key" ON "Item"("projectId", "sourceAddress");

-- CreateIndex
CREATE UNIQUE INDEX "CredentialLink_tokenHash_key" ON "CredentialLink"("tokenHash");

-- CreateIndex
CREATE INDEX "CredentialLink_itemId_idx" ON "CredentialLink"("itemId");

-- CreateIndex
CREATE INDEX "ItemEvent_itemId_id_idx" ON "ItemEvent"("itemId", "id");

-- CreateIndex
CREATE INDEX "ItemEvent_projectId_id_idx" ON "ItemEvent"("projectId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "SkippedMessage_itemId_sourceFolder_uid_key" ON "SkippedMessage"("itemId", "sourceFolder", "uid");

-- CreateIndex
CREATE INDEX "ChatConversation_surface_idx" ON "ChatConversation"("surface");

-- CreateIndex
CREATE INDEX "OutboxPost_state_threadRef_id_idx" ON "OutboxPost"("state", "threadRef", "id");

-- CreateIndex
CREATE INDEX "ItemReminder_nextAt_idx" ON "ItemReminder"("nextAt");

-- CreateIndex
CREATE INDEX "DigestRun_projectId_id_idx" ON "DigestRun"("projectId", "id");

