-- AlterTable
ALTER TABLE "Item" ADD COLUMN     "startAt" TIMESTAMP(3),
ADD COLUMN     "startBy" TEXT;

-- CreateIndex
CREATE INDEX "Item_startAt_idx" ON "Item"("startAt");
