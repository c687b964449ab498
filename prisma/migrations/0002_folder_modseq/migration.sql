-- AlterTable
ALTER TABLE "CopyCheckpoint" ADD COLUMN "srcHighestModseq" BIGINT;

