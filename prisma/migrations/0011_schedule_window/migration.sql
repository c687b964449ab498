-- AlterTable
ALTER TABLE "Item" ADD COLUMN "startAt" DATETIME;
ALTER TABLE "Item" ADD COLUMN "startBy" TEXT;

-- CreateIndex
CREATE INDEX "Item_startAt_idx" ON "Item"("startAt");
