/**
 * Fake Sequence and Rillet APIs as real HTTP servers on 127.0.0.1, for tests, benchmarks and demos.
 * The runtime knows nothing of them: point a connection's base URL at `fake.url`.
 */
export { startFakeSequence, SEQUENCE_API_VERSION } from './sequence.ts';
export type {
  FakeSequence, FakeSequenceOptions, SequenceWebhookEvent, SequenceSendOptions, WebhookSendResult, NewInvoice, NewCreditNote,
  SequenceData, SeqAddress, SeqContact, SeqCustomer, SeqProduct, SeqTaxCategory, SeqInvoice, SeqLineItem, SeqCreditNote, SeqPolicy,
  SeqInvoiceStatus, SeqTaxStatus, SeqPaymentStatus, SeqCreditNoteStatus, LineInput, Counts,
} from './sequence.ts';
export { startFakeRillet, RILLET_API_VERSION, problem } from './rillet.ts';
export type {
  FakeRillet, FakeRilletOptions, RilletWebhookEvent, RilletSendOptions, RilletSendResult, RilletWebhookTarget, RilletEntity, RilletEvent,
  NewRilletInvoice, NewRilletCreditMemo, TaxesBody, RilletData, RilletCustomer, RilletProduct, RilletInvoice, RilletItem, RilletCreditMemo,
  RilletSubsidiary, RilletTaxRate, RilletTaxLine, RilletAddress, Money, ItemInput, RilletInvoiceStatus, RilletCreditMemoStatus, RilletCounts,
} from './rillet.ts';
export type { Faults, RateLimit, LoggedRequest, RequestLog, FailOptions, DropOptions } from './faults.ts';
export type { DeliveryRecord, DeliveryOptions } from './webhooks.ts';
export { sequenceSignature, sequenceSignatureHeader, rilletSignature, rilletSignatureHeader } from './webhooks.ts';
export * as money from './money.ts';
