-- AlterTable
ALTER TABLE "Item" ADD COLUMN "leaseOwner" TEXT;

