-- CreateTable
CREATE TABLE "SeenRequest" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "expiresAt" BIGINT NOT NULL
);

-- CreateIndex
CREATE INDEX "SeenRequest_expiresAt_idx" ON "SeenRequest"("expiresAt");

