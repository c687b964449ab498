-- CreateTable
CREATE TABLE "Project" (
    "id" TEXT NOT NULL,
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
    "nextDigestAt" TIMESTAMP(3),
    "lastDigestAt" TIMESTAMP(3),
    "options" TEXT NOT NULL DEFAULT '{}',
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Project_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Item" (
    "id" TEXT NOT NULL,
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
    "leaseUntil" TIMESTAMP(3),
    "leaseOwner" TEXT,
    "messagesFound" INTEGER NOT NULL DEFAULT 0,
    "bytesFound" BIGINT NOT NULL DEFAULT 0,
    "messagesCopied" INTEGER NOT NULL DEFAULT 0,
    "bytesCopied" BIGINT NOT NULL DEFAULT 0,
    "messagesPresent" INTEGER NOT NULL DEFAULT 0,
    "messagesSkipped" INTEGER NOT NULL DEFAULT 0,
    "lastPassMs" INTEGER NOT NULL DEFAULT 0,
    "lastPassAt" TIMESTAMP(3),
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Item_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Credential" (
    "itemId" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "login" TEXT NOT NULL,
    "nonce" BYTEA NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "tag" BYTEA NOT NULL,
    "keyId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Credential_pkey" PRIMARY KEY ("itemId","side")
);

-- CreateTable
CREATE TABLE "CredentialLink" (
    "id" TEXT NOT NULL,
    "itemId" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "sides" TEXT NOT NULL,
    "recipient" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "CredentialLink_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ProjectCredential" (
    "projectId" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "nonce" BYTEA NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "tag" BYTEA NOT NULL,
    "keyId" TEXT NOT NULL,
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ProjectCredential_pkey" PRIMARY KEY ("projectId","side")
);

-- CreateTable
CREATE TABLE "ProjectLink" (
    "id" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "recipient" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ProjectLink_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OAuthState" (
    "id" TEXT NOT NULL,
    "stateHash" TEXT NOT NULL,
    "linkId" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "nonce" BYTEA NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "tag" BYTEA NOT NULL,
    "keyId" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OAuthState_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ItemEvent" (
    "id" SERIAL NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "projectId" TEXT NOT NULL,
    "itemId" TEXT,
    "address" TEXT,
    "actor" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "fromStatus" TEXT,
    "toStatus" TEXT,
    "detail" TEXT NOT NULL DEFAULT '{}',

    CONSTRAINT "ItemEvent_pkey" PRIMARY KEY ("id")
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
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "FolderState_pkey" PRIMARY KEY ("itemId","sourceFolder")
);

-- CreateTable
CREATE TABLE "SkippedMessage" (
    "id" SERIAL NOT NULL,
    "itemId" TEXT NOT NULL,
    "sourceFolder" TEXT NOT NULL,
    "uid" INTEGER NOT NULL,
    "size" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SkippedMessage_pkey" PRIMARY KEY ("id")
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
    "srcHighestModseq" BIGINT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "CopyCheckpoint_pkey" PRIMARY KEY ("itemId","sourceFolder")
);

-- CreateTable
CREATE TABLE "ChatConversation" (
    "id" TEXT NOT NULL,
    "surface" TEXT NOT NULL,
    "reference" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ChatConversation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OutboxPost" (
    "id" SERIAL NOT NULL,
    "threadRef" TEXT NOT NULL,
    "itemId" TEXT,
    "address" TEXT,
    "kind" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "replaceKey" TEXT,
    "solo" BOOLEAN NOT NULL DEFAULT false,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "availableAt" TIMESTAMP(3) NOT NULL,
    "claimedBy" TEXT,
    "claimedUntil" TIMESTAMP(3),
    "state" TEXT,
    "doneAt" TIMESTAMP(3),
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "OutboxPost_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ItemReminder" (
    "itemId" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "anchorAt" TIMESTAMP(3) NOT NULL,
    "sent" INTEGER NOT NULL DEFAULT 0,
    "nextAt" TIMESTAMP(3),
    "lastAt" TIMESTAMP(3),

    CONSTRAINT "ItemReminder_pkey" PRIMARY KEY ("itemId")
);

-- CreateTable
CREATE TABLE "DigestRun" (
    "id" SERIAL NOT NULL,
    "projectId" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,
    "counts" TEXT NOT NULL,
    "trigger" TEXT NOT NULL,

    CONSTRAINT "DigestRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DigestPlan" (
    "projectId" TEXT NOT NULL,
    "schedule" TEXT NOT NULL,
    "plannedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "DigestPlan_pkey" PRIMARY KEY ("projectId")
);

-- CreateTable
CREATE TABLE "SeenRequest" (
    "key" TEXT NOT NULL,
    "expiresAt" BIGINT NOT NULL,

    CONSTRAINT "SeenRequest_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "HealthProbe" (
    "owner" TEXT NOT NULL,
    "checkedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "HealthProbe_pkey" PRIMARY KEY ("owner")
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
CREATE UNIQUE INDEX "ProjectLink_tokenHash_key" ON "ProjectLink"("tokenHash");

-- CreateIndex
CREATE INDEX "ProjectLink_projectId_idx" ON "ProjectLink"("projectId");

-- CreateIndex
CREATE UNIQUE INDEX "OAuthState_stateHash_key" ON "OAuthState"("stateHash");

-- CreateIndex
CREATE INDEX "OAuthState_linkId_idx" ON "OAuthState"("linkId");

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

-- CreateIndex
CREATE INDEX "SeenRequest_expiresAt_idx" ON "SeenRequest"("expiresAt");

-- AddForeignKey
ALTER TABLE "Item" ADD CONSTRAINT "Item_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Credential" ADD CONSTRAINT "Credential_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CredentialLink" ADD CONSTRAINT "CredentialLink_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ProjectCredential" ADD CONSTRAINT "ProjectCredential_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ProjectLink" ADD CONSTRAINT "ProjectLink_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FolderState" ADD CONSTRAINT "FolderState_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "Item"("id") ON DELETE CASCADE ON UPDATE CASCADE;

