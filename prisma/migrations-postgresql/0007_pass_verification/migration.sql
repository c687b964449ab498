-- AlterTable
ALTER TABLE "Item" ADD COLUMN     "lastVerification" TEXT;

-- CreateTable
CREATE TABLE "AlteredMessage" (
    "id" SERIAL NOT NULL,
    "itemId" TEXT NOT NULL,
    "sourceFolder" TEXT NOT NULL,
    "uid" INTEGER NOT NULL,
    "destFolder" TEXT NOT NULL,
    "destUid" INTEGER NOT NULL,
    "sourceSize" INTEGER NOT NULL,
    "destSize" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AlteredMessage_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "AlteredMessage_itemId_sourceFolder_uid_key" ON "AlteredMessage"("itemId", "sourceFolder", "uid");

