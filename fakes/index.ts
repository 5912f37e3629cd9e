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
export { startFakeOAuth, pkceChallenge, OAuthError, DEFAULT_OAUTH_PATHS } from './oauth.ts';
export type {
  FakeOAuth, FakeOAuthOptions, OAuthClient, OAuthPaths, ClientAuthMethod, AuthorizeRequest, ConsentDecision, OAuthGrant, TokenResponse, AccessCheck,
} from './oauth.ts';
export { startFakeQuickBooks, intuitSignature, QboFault, QBO_MINOR_VERSION, QBO_ACCOUNTING_SCOPE, INTUIT_OAUTH_PATHS, parseQuery, QueryError } from './quickbooks.ts';
export type {
  FakeQuickBooks, FakeQuickBooksOptions, QboWebhookConfig, QboWebhookEntity, QboNotification, QboOperation, QboSendOptions, QboSendResult, LineSpec,
  QboCompany, QboCounts, CompanySeed, QboCustomer, QboItem, QboInvoice, QboCreditMemo, QboLine, QboSalesLine, QboTaxLine, QboTxnTaxDetail, QboTaxCode,
  QboTaxRate, QboRef, QboAddr, QboMeta, QboEntityName, QboRecord,
} from './quickbooks.ts';
export { startFakeStripe, stripeSignature, stripeSignatureHeader, stripeExponent, STRIPE_API_VERSION, STRIPE_ZERO_DECIMAL, STRIPE_THREE_DECIMAL } from './stripe.ts';
export type {
  FakeStripe, FakeStripeOptions, NewStripeInvoice, StripeSendOptions, StripeSendResult, StripeWrite, StripeData, StripeCounts, StripeCustomer,
  StripeAddress, StripeTaxId, StripeProduct, StripePrice, StripeTaxRate, StripeInvoice, StripeInvoiceStatus, StripeLineItem, StripeLineTax,
  StripeLineInput, StripeCreditNote, StripeCreditNoteLine, StripeEvent, StripeWebhookEndpoint,
} from './stripe.ts';
export { startFakeChargebee, CB_INVOICE_STATUSES } from './chargebee.ts';
export type {
  FakeChargebee, FakeChargebeeOptions, ChargebeeWebhookTarget, ChargebeeSendOptions, ChargebeeSendResult, ChargebeeWrite, NewChargebeeInvoice,
  ChargebeeData, ChargebeeCounts, CbCustomer, CbAddress, CbItem, CbItemPrice, CbInvoice, CbInvoiceStatus, CbLineItem, CbLineInput, CbTax,
  CbLineItemTax, CbCreditNote, CbEvent, CbWebhookEndpoint,
} from './chargebee.ts';
export { decodeForm, FormError } from './stripe-form.ts';
