-- A project's digest schedule state moves from Project to the bot's DigestPlan table.
-- Written by hand: Prisma's script rebuilds Project with DROP TABLE, which on a database
-- with foreign keys on (better-sqlite3's default; the PRAGMA that turns them off does
-- nothing inside the migration's transaction) would delete every item through the cascade.
-- DROP COLUMN leaves the table and its rows in place.

-- DigestPlan: schedule and plannedAt become optional (a digest asked for before any was
-- planned keeps its time), and it takes nextDigestAt and lastDigestAt.
CREATE TABLE "new_DigestPlan" (
    "projectId" TEXT NOT NULL PRIMARY KEY,
    "schedule" TEXT,
    "plannedAt" DATETIME,
    "nextDigestAt" DATETIME,
    "lastDigestAt" DATETIME
);
INSERT INTO "new_DigestPlan" ("projectId", "schedule", "plannedAt", "nextDigestAt", "lastDigestAt")
SELECT d."projectId", d."schedule", d."plannedAt", p."nextDigestAt", p."lastDigestAt"
FROM "DigestPlan" d LEFT JOIN "Project" p ON p."id" = d."projectId";
INSERT INTO "new_DigestPlan" ("projectId", "nextDigestAt", "lastDigestAt")
SELECT p."id", p."nextDigestAt", p."lastDigestAt" FROM "Project" p
WHERE (p."nextDigestAt" IS NOT NULL OR p."lastDigestAt" IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM "DigestPlan" d WHERE d."projectId" = p."id");
DROP TABLE "DigestPlan";
ALTER TABLE "new_DigestPlan" RENAME TO "DigestPlan";

-- AlterTable
ALTER TABLE "Project" DROP COLUMN "nextDigestAt";
ALTER TABLE "Project" DROP COLUMN "lastDigestAt";
