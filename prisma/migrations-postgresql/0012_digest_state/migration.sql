-- A project's digest schedule state moves from Project to the bot's DigestPlan table.

-- AlterTable
ALTER TABLE "DigestPlan" ADD COLUMN     "lastDigestAt" TIMESTAMP(3),
ADD COLUMN     "nextDigestAt" TIMESTAMP(3),
ALTER COLUMN "schedule" DROP NOT NULL,
ALTER COLUMN "plannedAt" DROP NOT NULL;

-- Move the values: onto a project's plan, or into a new plan row (a project that had a
-- digest without a plan).
UPDATE "DigestPlan" d SET "nextDigestAt" = p."nextDigestAt", "lastDigestAt" = p."lastDigestAt"
FROM "Project" p WHERE p."id" = d."projectId";
INSERT INTO "DigestPlan" ("projectId", "nextDigestAt", "lastDigestAt")
SELECT p."id", p."nextDigestAt", p."lastDigestAt" FROM "Project" p
WHERE (p."nextDigestAt" IS NOT NULL OR p."lastDigestAt" IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM "DigestPlan" d WHERE d."projectId" = p."id");

-- AlterTable
ALTER TABLE "Project" DROP COLUMN "lastDigestAt",
DROP COLUMN "nextDigestAt";
