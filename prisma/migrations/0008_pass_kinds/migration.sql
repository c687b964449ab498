-- AlterTable
ALTER TABLE "Item" ADD COLUMN "passKind" TEXT NOT NULL DEFAULT 'full';
